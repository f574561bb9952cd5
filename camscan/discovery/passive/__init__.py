"""Passive discovery: observations from traffic camscan only hears, never sends.

`pcapio` streams pcap and pcapng records in bounded memory; `dissect` drops most packets with a
byte prefilter and turns the few that can carry evidence into the same observations the active
probes make (reusing their parsers); `listen` reads a live interface through a receive-only
AF_PACKET socket; `result` turns what was heard into a ScanResult whose coverage says it is not
exhaustive.
"""

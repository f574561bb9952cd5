"""camscan: find Hikvision and Dahua cameras (and their OEM badges) on your networks."""

__version__ = "0.1.0"

"""faktctl: from "we want Faktory" to a production deployment that passes its go-live checklist."""

__version__ = "0.1.0"

"""faktctl: from "we want Faktory" to a production deployment that passes its go-live checklist."""

import os

__version__ = "0.1.0"

# pydantic hands every validation input (the spec, with its password) to any plugin installed in
# the same environment, and finding plugins scans every package's entry points on each start.
# faktctl wants neither; an operator can still opt in by setting the variable themselves.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

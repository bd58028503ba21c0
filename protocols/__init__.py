"""Sans-IO wire protocol machines: bytes in, events out; events in, bytes out. No I/O, no Trio."""

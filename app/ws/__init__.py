"""The station websocket: the hub that fans messages out, and its endpoint."""

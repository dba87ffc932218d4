"""The live read model: the configured devices and their status, the latest numerics per bed,
and the JSON shapes (bed, device, infusion, patient) the REST API and the station websocket
share. Read by `app.api` and `app.ws`; imports neither."""

"""HL7 v2 over MLLP: IHE PCD-01 observations and PCD-04 alarms from central stations.

- `mllp`: MLLP framing (sans-IO);
- `message`: a small HL7 v2 parser/writer, acknowledgements (sans-IO);
- `mdc`: MDC codes and units mapped to our vocabulary;
- `pcd`: PCD-01 / PCD-04 reading; `pcd_write`: their writing and the shared row builders
  (sans-IO);
- `receiver`: per-message decisions: ACK code, bed, observations and events (sans-IO);
- `listener`: `Hl7MllpDriver`, the asyncio MLLP server.
"""

"""HL7 v2 over MLLP: IHE PCD-01 observations and PCD-04 alarms from central stations, and
pump servers' PCD-01 / PCD-10 (IPEC) / PCD-04 infusion data.

- `mllp`: MLLP framing (sans-IO);
- `message`: a small HL7 v2 parser/writer, acknowledgements (sans-IO);
- `mdc`: MDC codes and units mapped to our vocabulary;
- `pcd`: PCD-01 / PCD-04 reading; `pcd_write`: their writing and the shared row builders
  (sans-IO);
- `pump_terms`, `pump`, `pump_feed`, `pump_write`: a pump server's terms (with sources), its
  messages read, turned into the Modbus pump driver's events, and written (sans-IO);
- `receiver`: per-message decisions: ACK code, bed, observations and events (sans-IO);
- `listener`: `Hl7MllpDriver`, the asyncio MLLP server.
"""

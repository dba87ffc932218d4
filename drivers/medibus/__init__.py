"""Dräger MEDIBUS over RS-232 (ventilators): sans-IO codec, data layouts, vocabulary, driver.

Modules: `codec` (frames and the incremental decoder), `layouts` (data payloads), `vocab`
(measured-data codes → our parameter codes), `session` (the host's protocol state table),
`driver` (`MedibusDriver`, the thin async loop). Nothing is imported here, so that simulators
can import the sans-IO modules without pulling in asyncio or pyserial.
"""

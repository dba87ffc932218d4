"""Philips IntelliVue patient monitors over the Data Export protocol on MIB/RS-232.

`framing` (frames, FCS, transparency), `association` and `messages` (the protocol subset) and
`values` (FLOAT, numerics, alarm lists) are sans-IO codecs; `translate` and `tracking` turn
decoded values into our vocabulary; `driver` is the thin async loop that moves the bytes.
"""

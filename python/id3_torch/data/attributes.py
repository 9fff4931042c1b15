"""The face attributes s of a manifest: its numeric columns, in the order the condition [y ; s] takes them.

Age in years, head pose (yaw, pitch, roll) in degrees; the parametric renderer records them as ground
truth, the real-data prepare stage predicts them (encoders/attributes.py). TypeScript's copy is
`ATTRIBUTE_NAMES` in src/dataset/manifest.ts, the other side of the bridge.
"""
ATTRIBUTE_NAMES = ("age", "yaw", "pitch", "roll")

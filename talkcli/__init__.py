"""talk: lip-synced talking-head videos from a portrait photo and a speech recording.

Importing this package is cheap: heavy dependencies (torch, mediapipe, cv2)
are imported by the stages that use them, so ``talk --help`` stays fast.
"""

__version__ = "0.1.0"

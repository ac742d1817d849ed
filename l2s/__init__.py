"""l2s: lip-to-speech synthesis in many languages."""

import os

__version__ = "0.1.0"

# MediaPipe's C++ side logs a screenful of INFO/WARNING lines per graph; keep errors only.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def speak(video, *args, **kwargs):
    """Voice a video (or a folder of videos) with a trained model; the arguments and what
    comes back are l2s.synthesis.speak's (model, output, mux, face_index, options)."""
    from l2s.synthesis import speak as _speak

    return _speak(video, *args, **kwargs)

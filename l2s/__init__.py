"""l2s: lip-to-speech synthesis in many languages.

    import l2s
    speech = l2s.speak("video.mp4", "models/multi", output="speech.wav")

The package follows the pipeline: `corpus` (the embedded corpus) -> `data` (raw videos to
training data) <- `vcagan` (the model, training, speaking) <- `evaluation` (test scores,
recognisers, WER, the report); `config`, `paths`, `scores` and `parallel` serve them all.
"""

import os

__version__ = "0.1.0"

# MediaPipe's C++ side logs a screenful of INFO/WARNING lines per graph; keep errors only.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def __getattr__(name: str):
    # l2s.speak is l2s.vcagan.speak.speak, imported on first use: `import l2s` stays light
    if name == "speak":
        from l2s.vcagan.speak import speak

        return speak
    raise AttributeError(f"module 'l2s' has no attribute {name!r}")

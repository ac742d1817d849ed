"""Why a raw input was skipped.

Preprocessing never deletes or edits a user's file: an input it cannot use raises
`Reject`, and the stage lists it with the reason code and a sentence a person can act on.
"""

# reason code -> what it means (the reject CSV and the stage metrics use the codes), in
# the order preprocessing checks them: readable, streams, duration, content
REASONS = {
    "bad_transcript": "the video's transcript file could not be decoded as text",
    "empty_file": "the file has zero bytes",
    "corrupt": "the container or a stream could not be decoded",
    "not_a_video": "the file holds a still image or a single frame, not a video",
    "no_video": "no video stream (an audio-only file)",
    "no_audio": "no audio track",
    "fps": "frame rate other than the target, with fps policy 'drop'",
    "too_short": "shorter than the minimum clip duration",
    "length_mismatch": "audio and video end at times that disagree beyond the tolerance",
    "silent": "the audio track is silent",
    "no_face": "no face found (in the whole video or in too many frames; the message says when turning it finds one)",
    "multiple_faces": "more than one face in the frame, with faces policy 'reject'",
    "out_of_sync": "audio and lips out of sync beyond the tolerance, with sync policy 'reject'",
    "error": "an unexpected error while processing it (not cached: retried on the next run)",
}


class Reject(Exception):
    """A raw input that preprocessing skips; `reason` is a key of REASONS."""

    def __init__(self, reason: str, detail: str):
        if reason not in REASONS:
            raise ValueError(f"unknown reject reason {reason!r}; known: {sorted(REASONS)}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

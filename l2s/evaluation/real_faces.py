"""The report's "Real footage" section: a trained model's speech for real talking faces.

Apart from l2s.evaluation.report so that the test stage, which uses the report's tables,
does not depend on `l2s speak` and its face tracking: only the report stage runs this.
"""

from __future__ import annotations

import logging

from l2s import config, paths

log = logging.getLogger(__name__)


def spoken(params: config.Params, model: str | None = None) -> list[dict]:
    """`l2s speak` with `model` (default: the first of params.yaml) on each real recording
    that `make setup` fetched (l2s.data.real_footage): per video its name and what it is, the
    face crops the model saw, the recorded and the generated speech (wave, sample rate), and
    their scores: STOI and ESTOI of the generated speech against the recorded one, DNSMOS of
    each, and what the English recogniser heard in each (when the pipeline has one). Videos
    not fetched are left out (an empty list without any)."""
    from l2s.data import media, real_footage
    from l2s.evaluation.asr import load_recognizer
    from l2s.scores import dnsmos, stoi
    from l2s.vcagan.speak import Synthesiser

    model = model or next(iter(params.models))
    found = []
    for item in real_footage.FOOTAGE:
        try:
            found.append((item, real_footage.path(item.name)))
        except FileNotFoundError as e:
            log.warning("%s", e)
    if not found:
        return []
    synth = Synthesiser(paths.best_checkpoint(model))
    recogniser = load_recognizer("en", params) if "en" in params.languages else None
    out = []
    for item, video in found:
        speech = synth(video)
        entry = {"name": item.name, "about": f"{item.about} ({item.spec}, {item.registry})", "crops": speech.crops}
        entry["generated"] = (speech.wave, speech.sample_rate)
        entry["scores"] = {"generated DNSMOS OVRL": dnsmos(speech.wave, speech.sample_rate)["ovrl"]}
        if item.speech:
            recorded = media.read_video(video, sample_rate=speech.sample_rate).audio
            entry["recorded"] = (recorded, speech.sample_rate)
            entry["scores"] |= {
                "recorded DNSMOS OVRL": dnsmos(recorded, speech.sample_rate)["ovrl"],
                "STOI": stoi(recorded, speech.wave, speech.sample_rate),
                "ESTOI": stoi(recorded, speech.wave, speech.sample_rate, extended=True),
            }
        if recogniser is not None:
            waves = {k: entry[k][0] for k in ("recorded", "generated") if k in entry}
            entry["heard"] = dict(zip(waves, recogniser.transcribe(list(waves.values()))))
        out.append(entry)
    return out

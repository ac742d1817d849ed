"""Per-language speech recognisers that score generated speech by word error rate.

VCA-GAN's authors measured the intelligibility of generated GRID speech with an ASR model
trained on the ground-truth training speech, and reported that model's own WER on the
ground-truth test speech (0.37-1.67 %) as the floor. Stage asr@<lang> (`l2s asr LANG`,
`stage.run`) does the same for each language of params.yaml: it trains a small character
CTC recogniser on data/processed/<lang>, writes models/asr/<lang>/asr.pt and reports its
own error rates on the recorded test speech (reports/records/asr/<lang>.json). Its CTC
decoding (l2s.evaluation.decoding) also decodes the lip reader of l2s.evaluation.lipreading.

    model.py        the CTC network and SpecAugment
    inputs.py       waveforms, audio files and mel .npz files as log-mel
    recognizers.py  `load_recognizer(lang)`: ours, or a faster-whisper model on disk
    training.py     the recogniser's trainer
    stage.py        the asr stage: train, then score on the recorded test speech
"""

from l2s.evaluation.asr.recognizers import Recognizer, load_recognizer

__all__ = ["Recognizer", "load_recognizer"]

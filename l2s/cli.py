"""The `l2s` command: one subcommand per pipeline stage, calling what the notebooks call."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import importlib
import logging
import sys

from l2s import config


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


@dataclasses.dataclass(frozen=True)
class Stage:
    """A per-item pipeline stage as a subcommand: `l2s <name> [items]` calls function(item, params)."""

    name: str
    function: str  # module:function
    items: str  # the params.yaml section listing the items
    help: str

    def run(self, args) -> None:
        params = config.load(args.params)
        section = params
        for part in self.items.split("."):
            section = getattr(section, part)
        unknown = [item for item in args.items if item not in section]
        if unknown:
            raise config.ConfigError(f"{self.items}: unknown {unknown}; params.yaml has: {', '.join(section)}")
        module, function = self.function.split(":")
        fn = getattr(importlib.import_module(module), function)
        for item in args.items or list(section):
            fn(item, params)


STAGES = (
    Stage(
        "corpus", "l2s.corpus.build:run", "corpus.languages", "generate the embedded synthetic corpus (data/raw/<lang>)"
    ),
    Stage("preprocess", "l2s.data.preprocess:run", "languages", "raw videos -> data/processed/<lang>"),
    Stage(
        "test", "l2s.evaluation.test:run", "evaluations", "synthesise and score test splits (outputs/<model>/<lang>)"
    ),
    Stage(
        "asr",
        "l2s.evaluation.asr.stage:run",
        "languages",
        "train each language's speech recogniser (models/asr/<lang>)",
    ),
    Stage("wer", "l2s.evaluation.wer:run", "evaluations", "word and character error rates of generated speech"),
)


def cmd_train(args) -> None:
    import subprocess

    from l2s.vcagan import train

    params = config.load(args.params)
    for name in args.models or list(params.models):
        cmd = train.launch_command(name, params, args.params)
        logging.getLogger("l2s").info("training %s: %s", name, " ".join(cmd))
        subprocess.run(cmd, check=True)


def cmd_bench(args) -> None:
    from l2s import bench

    bench.main(args)


@contextlib.contextmanager
def imports_kept_for_good():
    """Import a command's heavy modules (torch, MediaPipe) without the cyclic garbage
    collector, then freeze what the process holds: the ~300,000 objects of those modules
    live as long as the process, yet full collections over them cost `l2s speak` 0.2 s
    during the imports and 0.2 s more at exit, freeing nothing. Frozen objects are still
    freed by reference counting. Only a process's first import of torch freezes: a process
    that had it already (a test session calling main) keeps its collector as it was."""
    first = "torch" not in sys.modules
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if first:
            gc.freeze()
        if enabled:
            gc.enable()


def _frame_size(text: str) -> str:
    """A WIDTHxHEIGHT of even numbers (what H.264 in yuv420p can hold)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1920x1080") from None
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be even and at least 64")
    return f"{width}x{height}"


def cmd_speak(args) -> int:
    from pathlib import Path

    with imports_kept_for_good():
        from l2s.vcagan import speak

    options = dict(
        device=args.device, language=args.language, vocoder=args.vocoder, precision=args.precision, rotate=args.rotate
    )
    video = Path(args.video)
    output = args.output or (None if video.is_dir() else f"{video.stem}.wav")
    result = speak.speak(
        video, args.model, output, args.mux, args.face_index, keep=False, naturalness=args.dnsmos, **options
    )
    if isinstance(result, list):  # a folder: failures were logged one by one
        return 1 if len(result) < len(speak.video_files(video)) else 0
    return 0


def cmd_report(args) -> None:
    from l2s.evaluation import report

    report.render(args.params)


def cmd_params(args) -> None:
    params = config.load(args.params)
    print(f"params OK: languages {', '.join(params.languages)}")


def main(argv: list[str] | None = None) -> int:
    params_help = "params file (default: the repository's params.yaml)"
    parser = argparse.ArgumentParser(prog="l2s", description="Lip-to-speech synthesis in many languages.")
    parser.add_argument("--params", help=params_help)
    # --params after the subcommand too; SUPPRESS keeps a value given before it
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--params", default=argparse.SUPPRESS, help=params_help)
    sub = parser.add_subparsers(dest="command", required=True)

    for stage in STAGES:
        p = sub.add_parser(stage.name, help=stage.help, parents=[common])
        p.add_argument("items", nargs="*", help=f"keys of params.yaml {stage.items} (default: all)")
        p.set_defaults(fn=stage.run)

    p = sub.add_parser("train", help="train models (models/<name>), on every GPU when there are some", parents=[common])
    p.add_argument("models", nargs="*", help="models of params.yaml (default: all)")
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("bench", help="measure the speed of each step on this machine", parents=[common])
    p.add_argument("--clips", type=int, default=8, help="clips per measurement")
    p.add_argument(
        "--only",
        choices=("all", "data", "model", "vocoder", "speak", "memory", "shared", "real", "cluster"),
        default="all",
        help="which figures (memory: l2s speak on long videos; shared: training beside a busy core; real: l2s speak "
        "on the real videos of make setup; cluster: preprocessing on 1 and 2 local workers and a dask-CLI cluster, "
        "training as one node and as two; each only when asked for)",
    )
    p.add_argument(
        "--seconds", nargs="+", type=float, default=[20, 200], help="--only memory: video lengths (3600: an hour)"
    )
    p.add_argument(
        "--sizes", nargs="+", type=_frame_size, default=["360x288"], help="--only memory: frame sizes, e.g. 1920x1080"
    )
    p.add_argument("--presets", nargs="+", choices=("demo", "paper"), default=["demo", "paper"], help="model presets")
    p.set_defaults(fn=cmd_bench)

    p = sub.add_parser(
        "speak", help="speech from a silent video (or every video in a folder) with a trained model", parents=[common]
    )
    p.add_argument("video", help="a video file, or a folder of videos (batch mode)")
    p.add_argument("--model", default="models/multi", help="a models/<name> folder or a .pt checkpoint")
    p.add_argument("-o", "--output", help="the .wav to write (default ./<video>.wav); a folder in batch mode")
    p.add_argument(
        "--mux", help="also write this copy of the video with the speech as its sound (.mp4); a folder in batch mode"
    )
    p.add_argument("--face-index", type=int, default=0, help="which face speaks when there are several: 0 = largest")
    p.add_argument(
        "--rotate",
        type=int,
        choices=config.ROTATIONS,
        default=0,
        help="degrees clockwise to turn the frames first, for a video stored sideways without rotation metadata",
    )
    p.add_argument(
        "--dnsmos", action="store_true", help="also score each speech's naturalness (DNSMOS P.835, no reference needed)"
    )
    p.add_argument("--language", help="language vector to use, for models trained with one")
    p.add_argument("--device", help="cpu or cuda (default: cuda when there is a GPU)")
    p.add_argument(
        "--vocoder",
        default="mel",
        help="mel or linear (Griffin-Lim on the mel or the postnet's spectrogram), or a neural vocoder: "
        "its name under models/vocoders/, its folder or .pt file",
    )
    p.add_argument(
        "--precision", choices=("auto", "fp32", "bf16"), default="auto", help="auto: bf16 where the hardware has it"
    )
    p.set_defaults(fn=cmd_speak)

    p = sub.add_parser(
        "report",
        help="render the cross-language report (reports/report.html) from the stages' results",
        parents=[common],
    )
    p.set_defaults(fn=cmd_report)

    p = sub.add_parser("params", help="validate params.yaml", parents=[common])
    p.set_defaults(fn=cmd_params)

    args = parser.parse_args(argv)
    setup_logging()
    try:
        code = args.fn(args)
    except (FileNotFoundError, FileExistsError, ValueError) as e:  # ConfigError is a ValueError
        logging.getLogger("l2s").error("%s", e)
        return 2
    return code or 0


if __name__ == "__main__":
    sys.exit(main())

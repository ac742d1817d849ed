"""The `l2s` command: one subcommand per pipeline stage, calling what the notebooks call."""

from __future__ import annotations

import argparse
import logging
import sys

from l2s import config


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def _languages(args, names: list[str], what: str) -> list[str]:
    langs = args.languages or names
    unknown = [lang for lang in langs if lang not in names]
    if unknown:
        raise config.ConfigError(f"{what}: unknown language(s) {unknown}; params.yaml has: {', '.join(names)}")
    return langs


def cmd_corpus(args) -> None:
    from l2s import corpus

    params = config.load(args.params)
    for lang in _languages(args, list(params.corpus.languages), "corpus.languages"):
        corpus.build(lang, params)


def cmd_preprocess(args) -> None:
    from l2s import preprocess

    params = config.load(args.params)
    for lang in _languages(args, list(params.languages), "languages"):
        preprocess.run(lang, params)


def cmd_train(args) -> None:
    import subprocess

    from l2s import train

    params = config.load(args.params)
    for name in args.models or list(params.models):
        cmd = train.launch_command(name, params, args.params)
        logging.getLogger("l2s").info("training %s: %s", name, " ".join(cmd))
        subprocess.run(cmd, check=True)


def _evaluations(args, params: config.Params) -> list[str]:
    keys = args.evaluations or list(params.evaluations)
    for key in keys:
        if key not in params.evaluations:
            raise config.ConfigError(
                f"unknown evaluation {key!r}; params.yaml evaluations: {', '.join(params.evaluations)}"
            )
    return keys


def cmd_test(args) -> None:
    from l2s import evaluate

    params = config.load(args.params)
    for key in _evaluations(args, params):
        evaluate.run(key, params)


def cmd_asr(args) -> None:
    from l2s import asr

    params = config.load(args.params)
    for lang in _languages(args, list(params.languages), "languages"):
        asr.train(lang, params)


def cmd_wer(args) -> None:
    from l2s import wer

    params = config.load(args.params)
    for key in _evaluations(args, params):
        wer.run(key, params)


def cmd_bench(args) -> None:
    from l2s import bench

    bench.main(args)


def cmd_params(args) -> None:
    params = config.load(args.params)
    print(f"params OK: languages {', '.join(params.languages)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="l2s", description="Lip-to-speech synthesis in many languages.")
    parser.add_argument("--params", help="params file (default: the repository's params.yaml)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("corpus", help="generate the embedded synthetic corpus (data/raw/<lang>)")
    p.add_argument("languages", nargs="*", help="languages (default: all of corpus.languages)")
    p.set_defaults(fn=cmd_corpus)

    p = sub.add_parser("preprocess", help="raw videos -> data/processed/<lang>")
    p.add_argument("languages", nargs="*", help="languages (default: all of languages)")
    p.set_defaults(fn=cmd_preprocess)

    p = sub.add_parser("train", help="train models (models/<name>), on every GPU when there are some")
    p.add_argument("models", nargs="*", help="models of params.yaml (default: all)")
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("test", help="synthesise and score test splits (outputs/<model>/<lang>)")
    p.add_argument("evaluations", nargs="*", help="<model>-<lang> keys of params.yaml evaluations (default: all)")
    p.set_defaults(fn=cmd_test)

    p = sub.add_parser("asr", help="train each language's speech recogniser (models/asr/<lang>)")
    p.add_argument("languages", nargs="*", help="languages (default: all of languages)")
    p.set_defaults(fn=cmd_asr)

    p = sub.add_parser("wer", help="word and character error rates of generated speech")
    p.add_argument("evaluations", nargs="*", help="<model>-<lang> keys of params.yaml evaluations (default: all)")
    p.set_defaults(fn=cmd_wer)

    p = sub.add_parser("bench", help="measure the speed of each step on this machine")
    p.add_argument("--clips", type=int, default=8, help="clips per measurement")
    p.add_argument("--only", choices=("all", "data", "model"), default="all", help="which figures")
    p.set_defaults(fn=cmd_bench)

    p = sub.add_parser("params", help="validate params.yaml")
    p.set_defaults(fn=cmd_params)

    args = parser.parse_args(argv)
    setup_logging()
    try:
        args.fn(args)
    except (config.ConfigError, FileNotFoundError, FileExistsError, ValueError) as e:
        logging.getLogger("l2s").error("%s", e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

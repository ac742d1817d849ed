"""Run by tests/test_train.py under `torchrun --nproc-per-node=2`: trains the tiny model
and checks after every step that both replicas hold identical weights.

Each rank gets its own output folder so the test can see that rank 1 writes nothing.
"""

import logging
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from l2s import config
from l2s.vcagan import train


def main(base: Path) -> None:
    logging.basicConfig(level=logging.INFO)
    d, device = train.setup_distributed()
    out = base / f"rank{d.rank}"
    out.mkdir(parents=True, exist_ok=True)
    trainer = train.Trainer("tiny", config.load(), out, out / "history.csv", d, device)
    step = trainer.train_step

    def checked(batch):
        values = step(batch)
        flat = torch.cat(
            [p.detach().flatten() for m in (trainer.gen, trainer.disc, trainer.sync) for p in m.parameters()]
        )
        gathered = [torch.zeros_like(flat) for _ in range(d.world)]
        dist.all_gather(gathered, flat)
        assert torch.equal(gathered[0], gathered[1]), f"replicas differ after step {trainer.step + 1}"
        if d.main:
            print(f"replicas identical after step {trainer.step + 1}", flush=True)
        return values

    trainer.train_step = checked
    trainer.fit()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))

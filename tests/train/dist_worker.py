"""One rank of the distributed-training tests (started by ``voxref.train.distributed.launch``).

``python dist_worker.py CASES.json OUT_DIR``: for every case (TrainConfig overrides of the tiny
test config), train ``steps`` steps on the fixture speakers in this process group; rank 0 saves
the losses and the final model and objective states to ``OUT_DIR/<name>.pt``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import SPEECH, make_tiny_config  # noqa: E402
from voxref.train import SpeakerCorpus, Trainer  # noqa: E402
from voxref.train.distributed import DistContext, leave_process_group  # noqa: E402


def main(cases_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    ctx = DistContext.from_env("cpu")
    corpus = SpeakerCorpus.from_path(SPEECH).preload()
    for name, case in json.loads(Path(cases_file).read_text()).items():
        steps = case.pop("steps")
        trainer = Trainer(make_tiny_config(**case), train_corpus=corpus, out=None, distributed=ctx)
        losses = trainer.fit(steps=steps).losses
        if ctx.is_main:
            torch.save(
                {
                    "losses": losses,
                    "model": trainer.model.network.state_dict(),
                    "objective": trainer.objective.state_dict(),
                },
                Path(out_dir) / f"{name}.pt",
            )
    leave_process_group(completed=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

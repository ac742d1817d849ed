"""Shared fixtures: a throwaway repository root and a real face image."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.helpers import REPO

# one compute thread per test process: the suite runs on 2 cores beside other work
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def one_thread():
    """One torch thread inside the test, the number before restored after it (model tests
    compare outputs, which must not depend on how many threads share the work)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty l2s repository root (params.yaml + dvc.yaml) that l2s.paths resolves to."""
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    monkeypatch.setenv("L2S_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def face_frame() -> np.ndarray:
    """A real face, 192x192 RGB (skimage's astronaut, cropped around the face)."""
    import cv2
    import skimage.data

    img = skimage.data.astronaut()[20:260, 120:360]
    return cv2.resize(img, (192, 192), interpolation=cv2.INTER_AREA)

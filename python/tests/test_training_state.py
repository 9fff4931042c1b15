"""Training utilities: exact save/restore, data order, lr schedule."""
import torch

from id3_torch.training.order import rank_batches
from id3_torch.training.schedule import step_decay
from id3_torch.training.state import load_training_state, save_training_state


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 3))


def _steps(model, optimizer, generator, n):
    for _ in range(n):
        x = torch.randn(16, 4, generator=generator)
        loss = model(x).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_save_and_load_resume_exactly(tmp_path):
    for make_optimizer in (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=5e-4),
                           lambda p: torch.optim.AdamW(p, lr=1e-3)):
        straight, generator = _model(), torch.Generator().manual_seed(1)
        optimizer = make_optimizer(straight.parameters())
        _steps(straight, optimizer, generator, 6)

        first, generator = _model(), torch.Generator().manual_seed(1)
        optimizer = make_optimizer(first.parameters())
        _steps(first, optimizer, generator, 3)
        path = str(tmp_path / "state.safetensors")
        save_training_state(path, step=3, modules={"model": first}, optimizer=optimizer,
                            generators={"data": generator}, extra={"epoch": 0})

        resumed, generator = _model(), torch.Generator().manual_seed(99)
        optimizer = make_optimizer(resumed.parameters())
        _steps(resumed, optimizer, torch.Generator().manual_seed(5), 1)  # state to be overwritten
        restored = load_training_state(path, modules={"model": resumed}, optimizer=optimizer,
                                       generators={"data": generator})
        assert restored == {"step": 3, "extra": {"epoch": 0}}
        _steps(resumed, optimizer, generator, 3)
        for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
            assert torch.equal(a, b)
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_rank_batches_partition_the_epoch_and_depend_only_on_seed_and_epoch():
    one = rank_batches(103, batch_size=10, seed=3, epoch=2)
    assert len(one) == 10 and all(b.shape == (10,) for b in one)
    assert len(set(torch.cat(one).tolist())) == 100
    again = rank_batches(103, batch_size=10, seed=3, epoch=2)
    assert all(torch.equal(a, b) for a, b in zip(one, again))
    assert not torch.equal(torch.cat(one), torch.cat(rank_batches(103, batch_size=10, seed=3, epoch=3)))
    r0 = rank_batches(103, batch_size=5, seed=3, epoch=2, rank=0, world_size=2)
    r1 = rank_batches(103, batch_size=5, seed=3, epoch=2, rank=1, world_size=2)
    assert len(r0) == len(r1) == 10
    assert torch.equal(torch.cat([torch.cat([a, b]) for a, b in zip(r0, r1)]), torch.cat(one))


def test_step_decay_matches_the_recipe():
    lr = lambda step: step_decay(step, base_lr=0.1, steps_per_epoch=100, decay_epochs=[22, 28, 32], warmup_epochs=1)
    assert lr(0) == 0.1 / 100 and lr(49) == 0.1 * 50 / 100
    assert lr(100) == 0.1 and lr(2199) == 0.1
    assert abs(lr(2200) - 0.01) < 1e-12 and abs(lr(2800) - 0.001) < 1e-12 and abs(lr(3999) - 1e-4) < 1e-12

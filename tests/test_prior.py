"""Content prior: pre-training and the collapse guard, frozen parameters, the cache, taming checkpoints."""

from __future__ import annotations

import pytest
import torch

from derain.config.presets import make_config
from derain.engine.loop import train_loop
from derain.errors import ConfigError
from derain.prior.restorer import frozen_parameters
from derain.prior.store import ensure_prior, prior_key
from derain.prior.taming import GroupNorm32, Layout
from derain.prior.vq import VQModel, load_taming
from derain.train import build_task, fit

TINY = {
    "data.patch_size": 16,
    "data.pool_size": 64,
    "data.eval_images": 4,
    "prior.kind": "vq",
    "prior.levels": 2,
    "prior.codebook_size": 64,
    "prior.embed_dim": 8,
    "prior.pretrain_iterations": 120,
    "prior.pretrain_batch": 8,
    "prior.pretrain_source": "textures",
    "prior.restart_every": 20,
}


def _cfg(tmp_path, **extra):
    return make_config("smoke", {**TINY, "prior.store": str(tmp_path / "priors"), **extra})


def test_pretraining_learns_and_restarts_keep_the_codebook_alive(tmp_path):
    _, guarded, _ = ensure_prior(_cfg(tmp_path))
    _, unguarded, _ = ensure_prior(_cfg(tmp_path, **{"prior.restart_every": 0}))
    assert guarded["prior/l1_last"] < 0.8 * guarded["prior/l1_first"]
    assert guarded["prior/usage"] > unguarded["prior/usage"]
    assert guarded["prior/usage"] >= 0.2 and guarded["prior/perplexity"] > 5
    assert guarded["prior/recon_psnr"] > 15


def test_store_hits_on_the_second_request(tmp_path, monkeypatch):
    cfg = _cfg(tmp_path)
    first, metrics, hit = ensure_prior(cfg)
    assert not hit and (tmp_path / "priors" / prior_key(cfg) / "prior.pt").exists()

    def no_training(*args, **kwargs):
        raise AssertionError("pre-training ran on a cache hit")

    monkeypatch.setattr("derain.prior.store.pretrain", no_training)
    again, metrics_again, hit = ensure_prior(_cfg(tmp_path, **{"prior.skip": 0.5, "prior.finetune_decoder": True}))
    assert hit and metrics_again == metrics  # restorer-only options share the prior
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values(), strict=True))
    assert prior_key(_cfg(tmp_path, **{"prior.codebook_size": 32})) != prior_key(cfg)


@pytest.mark.parametrize("finetune", [False, True])
def test_frozen_prior_stays_bit_identical(tmp_path, finetune):
    cfg = _cfg(tmp_path, **{"prior.finetune_decoder": finetune, "train.iterations": 6, "train.eval_every": 6})
    task = build_task(cfg, torch.device("cpu"))
    frozen = frozen_parameters(task.model)
    decoder_before = {n: p.detach().clone() for n, p in task.model.prior.decoder.named_parameters()}
    encoder_before = {n: p.detach().clone() for n, p in task.model.encoder.named_parameters()}
    metrics = train_loop(task, train=cfg.train, seed=cfg.seed, device=torch.device("cpu"))
    after = dict(task.model.prior.named_parameters())
    assert all(torch.equal(after[n], v) for n, v in frozen.items())
    assert "quantize.embedding.weight" in frozen  # the codebook is always frozen
    assert any(not torch.equal(p, encoder_before[n]) for n, p in task.model.encoder.named_parameters())
    decoder_changed = any(not torch.equal(p, decoder_before[n]) for n, p in task.model.prior.decoder.named_parameters())
    assert decoder_changed == finetune
    assert metrics["prior/cache_hit"] in (0.0, 1.0) and "prior/recon_psnr" in metrics


def test_fit_with_prior_reports_prior_metrics(tmp_path):
    metrics = fit(_cfg(tmp_path, **{"train.iterations": 4, "train.eval_every": 4}))
    assert {"prior/recon_psnr", "prior/usage", "eval/unseen/removal"} <= set(metrics)


TAMING_KEYS = [
    "encoder.conv_in.weight",
    "encoder.down.0.block.0.norm1.weight",
    "encoder.down.0.block.0.conv1.weight",
    "encoder.down.0.downsample.conv.weight",
    "encoder.down.1.block.0.nin_shortcut.weight",
    "encoder.down.1.attn.0.q.weight",
    "encoder.mid.block_1.conv2.bias",
    "encoder.mid.attn_1.proj_out.weight",
    "encoder.norm_out.weight",
    "encoder.conv_out.weight",
    "decoder.conv_in.weight",
    "decoder.mid.attn_1.k.weight",
    "decoder.up.1.block.2.conv1.weight",
    "decoder.up.1.attn.2.v.weight",
    "decoder.up.1.upsample.conv.weight",
    "decoder.up.0.block.0.nin_shortcut.weight",
    "decoder.conv_out.weight",
    "quantize.embedding.weight",
    "quant_conv.weight",
    "post_quant_conv.bias",
]


def test_taming_checkpoint_loads_strictly_and_round_trips(tmp_path):
    layout = Layout(ch=32, ch_mult=(1, 2), num_res_blocks=2, attn_levels=(1,), z_channels=64)
    torch.manual_seed(0)
    original = VQModel(layout, n_embed=128, embed_dim=16).eval()
    state = original.state_dict()
    assert set(TAMING_KEYS) <= set(state)
    lightning = {"state_dict": {**state, "loss.discriminator.main.0.weight": torch.zeros(2)}, "global_step": 7}
    torch.save(lightning, tmp_path / "last.ckpt")
    loaded = load_taming(tmp_path / "last.ckpt").eval()
    assert loaded.layout == layout
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)[0], original(x)[0])


def test_missing_or_foreign_checkpoints_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_taming(tmp_path / "nope.ckpt")
    torch.save({"state_dict": {"encoder.conv_in.weight": torch.zeros(32, 3, 3, 3)}}, tmp_path / "bad.ckpt")
    with pytest.raises(ConfigError, match="not a taming VQModel"):
        load_taming(tmp_path / "bad.ckpt")
    with pytest.raises(ConfigError, match=r"prior\.checkpoint"):
        make_config("smoke", {"prior.kind": "vq", "prior.checkpoint": str(tmp_path / "nope.ckpt")})


def test_one_prior_serves_every_training_seed(tmp_path):
    assert prior_key(_cfg(tmp_path, seed=0)) == prior_key(_cfg(tmp_path, seed=5))
    assert prior_key(_cfg(tmp_path, **{"data.seed": 1})) != prior_key(_cfg(tmp_path))


def test_the_unquantised_baseline_shares_the_prior_but_skips_the_codebook(tmp_path):
    vq, ae = (build_task(_cfg(tmp_path, **{"prior.kind": k}), torch.device("cpu")).model for k in ("vq", "ae"))
    assert prior_key(_cfg(tmp_path, **{"prior.kind": "ae"})) == prior_key(_cfg(tmp_path))  # one pre-training
    assert all(torch.equal(a, b) for a, b in zip(vq.state_dict().values(), ae.state_dict().values(), strict=True))
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        z = vq.quant_conv(vq.encoder(x * 2 - 1))
        zq = vq.prior.quantize(z)[0]
        codes = vq.prior.quantize.embedding.weight
        on_codebook = lambda v: torch.cdist(v.permute(0, 2, 3, 1).reshape(-1, v.shape[1]), codes).min(1).values  # noqa: E731
        assert on_codebook(zq).max() < 1e-3 < on_codebook(z).max()  # vq snaps the latents; ae's stay off the codebook
        torch.testing.assert_close(vq(x), vq.prior.decode(zq))
        torch.testing.assert_close(ae(x), ae.prior.decode(z))


def test_group_norm32_normalises_bf16_inputs_in_float32_and_keeps_the_layout():
    """Under autocast a bf16 (channels_last) input is normalised in fp32, as nn.GroupNorm would normalise the same
    values in fp32, and comes back channels_last; fp32 inputs take nn.GroupNorm's own path, bit for bit."""
    torch.manual_seed(0)
    ours, theirs = GroupNorm32(32, 64, eps=1e-6), torch.nn.GroupNorm(32, 64, eps=1e-6)
    theirs.load_state_dict(ours.state_dict())
    x = (3 * torch.randn(2, 64, 8, 8) + 1).contiguous(memory_format=torch.channels_last)
    assert torch.equal(ours(x), theirs(x))
    low = x.bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = ours(low)
    assert y.dtype == torch.float32 and y.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(y, theirs(low.float()), rtol=1e-5, atol=1e-5)

"""PPO: GAE and VCI by hand, the KL controller, learning on a tiny model, ADM- trajectories, resume, the CLI."""
import json
from pathlib import Path

import pytest
import torch

from train.data import EditRow
from train.ppo import AdaptiveKLController, PPOConfig, PPOTrainer, gae, main, vci_values, whiten

REPO = Path(__file__).resolve().parents[1]
WORDS = "a an the cat dog red blue green big small house tree car photo of in on with and".split()


def test_gae_matches_hand_computation():
    values = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 9.0]])
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 5.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])  # row 2 ends after two tokens
    adv, ret = gae(values, rewards, mask, gamma=0.5, lam=0.5)
    # row 1: d2 = 1 - 3 = -2; d1 = .5*3 - 2 = -.5, A1 = -.5 + .25*-2 = -1; d0 = .5*2 - 1 = 0, A0 = .25*-1
    assert torch.allclose(adv[0], torch.tensor([-0.25, -1.0, -2.0]))
    assert torch.allclose(ret[0], torch.tensor([0.75, 1.0, 1.0]))
    # row 2: padding is ignored: d1 = 1 - 2 = -1; d0 = .5*2 - 1 = 0, A0 = .25*-1
    assert torch.allclose(adv[1], torch.tensor([-0.25, -1.0, 0.0]))


def test_vci_bonus_in_gae_matches_hand_computation():
    values = torch.tensor([[1.0, 2.0, 3.0]])
    ci = torch.tensor([[0.0, 0.5, 1.0]])
    v = vci_values(values, ci, alpha=0.05)
    assert torch.allclose(v, torch.tensor([[1.0, 2.025, 3.05]]))
    adv, _ = gae(v, torch.tensor([[0.0, 0.0, 1.0]]), torch.ones(1, 3), gamma=0.5, lam=0.5)
    # d2 = 1 - 3.05 = -2.05; d1 = .5*3.05 - 2.025 = -.5, A1 = -.5 + .25*-2.05 = -1.0125
    # d0 = .5*2.025 - 1 = .0125, A0 = .0125 + .25*-1.0125 = -.240625
    assert torch.allclose(adv, torch.tensor([[-0.240625, -1.0125, -2.05]]))


def test_whiten_and_kl_controller():
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    m = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    w = whiten(x, m)
    assert abs(w[0, :3].mean().item()) < 1e-5 and w[0, 3].item() == 0.0
    kl = AdaptiveKLController(0.05, target=6.0, horizon=10000)
    kl.update(current_kl=60.0, n_steps=100)  # far above target: error clipped to +0.2
    assert kl.value == pytest.approx(0.05 * (1 + 0.2 * 100 / 10000))
    kl.update(current_kl=0.0, n_steps=100)
    assert kl.value == pytest.approx(0.05 * 1.002 * 0.998)
    fixed = AdaptiveKLController(0.05, target=None, horizon=10000)
    fixed.update(100.0, 100)
    assert fixed.value == 0.05


@pytest.fixture(scope="module")
def word_lm(tmp_path_factory):
    """A tiny random Llama with a word-level tokenizer, saved and loaded back through from_pretrained."""
    return make_word_lm(tmp_path_factory.mktemp("word-lm"), WORDS)


@pytest.fixture(scope="module")
def script_lm(tmp_path_factory):
    """The same, with the edit scripts' '=>' and '&&' in its vocabulary."""
    return make_word_lm(tmp_path_factory.mktemp("script-lm"), WORDS + ["=>", "&&"])


def make_word_lm(folder, words):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["<pad>", "<eos>", "[UNK]"] + words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="[UNK]")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, pad_token_id=0, eos_token_id=1, bos_token_id=None)
    LlamaForCausalLM(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return lambda: (AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32), AutoTokenizer.from_pretrained(folder))


ROWS = [EditRow("a cat in a house", "make the cat red", "a red cat in a house"),
        EditRow("a dog on a tree", "make it blue", "a blue dog on a tree"),
        EditRow("a photo of a car", "make the car small", "a photo of a small car")]


def red_reward(sources, instructions, references, predictions):
    return [sum(w == "red" for w in p.split()) / max(len(p.split()), 1) for p in predictions]


def small_cfg(tmp_path, **kw):
    base = dict(output_dir=str(tmp_path), steps=6, batch_size=8, mini_batch_size=8, ppo_epochs=4, max_new_tokens=4,
                lr=3e-3, init_kl_coef=0.0, kl_target=None, num_layers_unfrozen=-1, adm_positive=False,
                adm_negative=False, vci=True, device="cpu", save_every=0)
    base.update(kw)
    return PPOConfig(**base)


def red_logprob(trainer) -> float:
    """Mean log-prob of 'red' as the first output token, over the training prompts."""
    red = trainer.tokenizer.convert_tokens_to_ids("red")
    policy = trainer.unwrapped.policy
    out = []
    with torch.no_grad():
        for row in ROWS:
            ids = torch.tensor([trainer._encode_query(row)])
            out.append(torch.log_softmax(policy(input_ids=ids).logits[0, -1], -1)[red].item())
    return sum(out) / len(out)


def test_ppo_moves_policy_towards_rewarded_token(word_lm, tmp_path):
    policy, tok = word_lm()
    trainer = PPOTrainer(small_cfg(tmp_path), policy, tok, red_reward, ROWS)
    before = red_logprob(trainer)
    history = trainer.train(progress=False)
    after = red_logprob(trainer)
    assert after > before + 0.5, (before, after)
    assert history[-1]["reward"] > history[0]["reward"]
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == list(range(1, 7))
    for key in ("reward", "kl", "value_loss", "entropy", "ci", "policy_loss", "kl_coef"):
        assert all(isinstance(m[key], float) for m in lines), key
    assert lines[0]["kl"] == pytest.approx(0.0, abs=1e-5)  # policy == reference before the first update


def test_reference_stays_frozen_while_policy_moves(word_lm, tmp_path):
    policy, tok = word_lm()
    trainer = PPOTrainer(small_cfg(tmp_path, steps=2, init_kl_coef=0.05), policy, tok, red_reward, ROWS)
    ref_before = {k: v.clone() for k, v in trainer.ref.state_dict().items()}
    trainer.train(progress=False)
    assert all(torch.equal(v, trainer.ref.state_dict()[k]) for k, v in ref_before.items())
    ids = torch.tensor([trainer._encode_query(ROWS[0])])
    with torch.no_grad():
        logp = torch.log_softmax(trainer.unwrapped.policy(input_ids=ids).logits[0, -1], -1)
        logq = torch.log_softmax(trainer.ref(input_ids=ids).logits[0, -1], -1)
    assert (logp.exp() * (logp - logq)).sum().item() > 1e-3  # KL(policy || reference) > 0


def test_freeze_bottom_trains_only_last_blocks(word_lm, tmp_path):
    policy, tok = word_lm()
    trainer = PPOTrainer(small_cfg(tmp_path, num_layers_unfrozen=1), policy, tok, red_reward, ROWS)
    names = [n for n, p in trainer.unwrapped.named_parameters() if p.requires_grad]
    assert any(".layers.1." in n for n in names) and not any(".layers.0." in n for n in names)
    assert not any("embed_tokens" in n for n in names) and any(n.startswith("value_head") for n in names)


def test_adm_negatives_join_the_batch_with_their_reward(word_lm, tmp_path):
    policy, tok = word_lm()
    cfg = small_cfg(tmp_path, adm_negative=True, negative_rate=1.0, adm_positive=True)
    trainer = PPOTrainer(cfg, policy, tok, red_reward, ROWS)
    trajs = trainer.rollout(0)
    negs = [t for t in trajs if t.negative]
    assert len(trajs) == cfg.batch_size + len(negs) and negs
    for t in negs:
        assert t.response[-1] == tok.eos_token_id and t.text != t.row.target
        assert t.score == red_reward(None, None, None, [t.text])[0]
    metrics = trainer.step()
    assert metrics["n_negative"] > 0 and metrics["reward_negative"] is not None


def test_prefix_ci_scores_partial_outputs(word_lm, tmp_path):
    from diffchat.scoring.ci import ci_score
    from train.ppo import Trajectory

    policy, tok = word_lm()
    trainer = PPOTrainer(small_cfg(tmp_path), policy, tok, red_reward, ROWS)
    row = ROWS[0]
    resp = tok(" a red cat in a house", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ci = trainer.prefix_ci([Trajectory(row, [3], resp)], len(resp) + 1)[0]
    assert ci[0] == 0.0  # nothing written yet
    assert ci[3].item() == pytest.approx(ci_score(row.source, row.instruction, row.target, "a red cat"))
    assert ci[len(resp) - 1].item() == pytest.approx(1.0)
    assert ci[len(resp)].item() == 0.0  # padding


def test_script_template_rewards_the_applied_script(script_lm, tmp_path):
    """An edit-script policy (template 'script') is scored on the prompt its script makes."""
    from diffchat.editor.edit_script import apply_script
    from diffchat.scoring.ci import ci_score
    from train.ppo import Trajectory

    policy, tok = script_lm()
    cfg = small_cfg(tmp_path, adm_negative=True, negative_rate=1.0)
    trainer = PPOTrainer(cfg, policy, tok, red_reward, ROWS, template="script")
    row, eos = ROWS[0], tok.eos_token_id
    script = tok(" cat => red cat", add_special_tokens=False)["input_ids"] + [eos]
    assert trainer._output(row, script) == "a red cat in a house"
    assert trainer._output(row, tok(" red red", add_special_tokens=False)["input_ids"]) == ""  # no script
    assert trainer._output(row, tok(" dog => red", add_special_tokens=False)["input_ids"]) == ""  # no 'dog'
    two = tok(" cat => red cat && house => tree", add_special_tokens=False)["input_ids"]
    assert trainer._output(row, two[:6], partial=True) == "a red cat in a house"  # the finished part
    assert trainer._output(row, two[:1], partial=True) == row.source  # "cat": no replacement yet
    ci = trainer.prefix_ci([Trajectory(row, [3], script)], len(script))[0]
    assert ci[1].item() == pytest.approx(ci_score(row.source, row.instruction, row.target, row.source))
    assert ci[len(script) - 1].item() == pytest.approx(1.0)
    negs = [t for t in trainer.rollout(0) if t.negative]
    assert negs
    for t in negs:  # ADM- negatives are written as scripts to the perturbed target
        written = trainer._decode(t.response)
        assert "=>" in written and t.text == apply_script(t.row.source, written) and t.text != t.row.target
    trainer.step()


def test_resume_reproduces_the_uninterrupted_run(word_lm, tmp_path):
    policy, tok = word_lm()
    full = PPOTrainer(small_cfg(tmp_path / "a", steps=3, save_every=1, adm_negative=True, negative_rate=0.3,
                                adm_positive=True, init_kl_coef=0.05, kl_target=6.0), policy, tok, red_reward, ROWS)
    full.train(progress=False)
    ckpts = sorted((tmp_path / "a" / "checkpoints").iterdir())
    assert [c.name for c in ckpts] == ["step-000002", "step-000003"]  # keep_checkpoints=2

    policy, tok = word_lm()
    resumed = PPOTrainer(small_cfg(tmp_path / "a", steps=3, save_every=0, adm_negative=True, negative_rate=0.3,
                                   adm_positive=True, init_kl_coef=0.05, kl_target=6.0), policy, tok, red_reward, ROWS)
    resumed.load_checkpoint(ckpts[0])
    assert resumed.step_done == 2
    lines = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2]  # step 3 dropped, to be redone
    resumed.train(progress=False)
    for (n, p), (_, q) in zip(full.unwrapped.named_parameters(), resumed.unwrapped.named_parameters()):
        assert torch.allclose(p, q, atol=1e-6), n
    assert resumed.kl.value == pytest.approx(full.kl.value)
    steps = [json.loads(x)["step"] for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]


def test_smoke_config_cli_and_resume(tmp_path):
    out = tmp_path / "smoke"
    cfg = str(REPO / "train" / "configs" / "ppo-smoke.yaml")
    main(["--config", cfg, "--output-dir", str(out), "--steps", "3"])
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(k in rows[0] for k in ("reward", "kl", "value_loss", "ci", "entropy"))
    assert (out / "metrics.png").stat().st_size > 1000
    assert (out / "final" / "config.json").is_file() and (out / "final" / "diffchat_editor.json").is_file()
    main(["--config", cfg, "--output-dir", str(out), "--steps", "4", "--resume"])
    assert [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3, 4]
    from diffchat.editor import load_editor

    editor = load_editor(str(out / "final"), device="cpu")  # the result loads as an editor
    assert isinstance(editor.edit_batch([("a cat", "make it red")], progress=False, max_new_tokens=4)[0], str)


def test_config_rejects_unknown_keys(tmp_path):
    from diffchat.errors import InvalidInput

    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: 2\nlearning_rate: 1\n")
    with pytest.raises(InvalidInput, match="learning_rate"):
        PPOConfig.from_yaml(bad)
    for name in ("ppo-smoke.yaml", "ppo-cpu.yaml", "ppo-cpu-offline.yaml", "ppo-paper.yaml"):
        PPOConfig.from_yaml(REPO / "train" / "configs" / name)


def test_training_rows_leave_out_the_sft_validation_split():
    from train.data import load_rows, split_by_source
    from train.ppo import load_training_rows
    from train.sft import SFTRunConfig

    sft = SFTRunConfig.from_yaml(REPO / "train" / "configs" / "sft-cpu.yaml")
    cfg = PPOConfig.from_yaml(REPO / "train" / "configs" / "ppo-cpu-offline.yaml")
    assert (cfg.val_fraction, cfg.split_seed) == (sft.val_fraction, sft.seed)
    rows = load_training_rows(cfg)
    everything, _ = load_rows(cfg.data[0])
    train, val = split_by_source(everything, sft.val_fraction, sft.seed)
    assert rows == train and len(val) > 0
    assert not {r.source.lower() for r in rows} & {r.source.lower() for r in val}


def test_lora_option_trains_only_the_adapter_and_saves_a_plain_model(word_lm, tmp_path):
    from transformers import AutoModelForCausalLM

    policy, tok = word_lm()
    trainer = PPOTrainer(small_cfg(tmp_path, steps=1, lora_r=4), policy, tok, red_reward, ROWS)
    names = [n for n, p in trainer.unwrapped.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n or n.startswith("value_head") for n in names)
    trainer.train(progress=False)
    final = trainer.save_final()
    model = AutoModelForCausalLM.from_pretrained(final)
    assert not any("lora" in n for n, _ in model.named_parameters())

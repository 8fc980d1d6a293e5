"""Text reward models (training lowers the loss, save/load), the CI-gated reward, score rows, image scoring."""
import json
import random

import pytest

from diffchat.errors import InvalidInput, ModelLoadError
from train.reward import (Reward, RewardConfig, RewardModelConfig, TextRewardModel, load_score_rows,
                          train_reward_model)

WORDS = "cat dog house tree car boat lake field city street".split()


def score_rows(n=48, seed=0):
    """Prompts with 'golden' get higher scores: a pattern a reward model can learn from the text."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        good = rng.random() < 0.5
        words = rng.sample(WORDS, 3) + (["golden", "light"] if good else ["grey", "fog"])
        rng.shuffle(words)
        rows.append({"prompt": "a photo of " + " ".join(words), "pickscore": 22.0 if good else 19.0,
                     "aesthetic": 6.5 if good else 5.0})
    return rows


def test_reward_model_training_lowers_loss_and_reloads(tmp_path):
    rows = score_rows()
    cfg = RewardModelConfig(model="tiny", output_dir=str(tmp_path), epochs=6, lr=3e-3, batch_size=8,
                            max_length=32, val_fraction=0.0, device="cpu")
    result = train_reward_model(cfg, rows, progress=False)
    assert result["val_loss_after"] < 0.5 * result["val_loss_before"], result
    assert (tmp_path / "metrics.jsonl").read_text().count("\n") == len(result["train_losses"])

    rm = TextRewardModel.from_pretrained(result["path"])
    pred = rm.predict(["a photo of golden light cat dog house", "a photo of grey fog cat dog house"])
    assert pred["pickscore"][0] > pred["pickscore"][1] and pred["aesthetic"][0] > pred["aesthetic"][1]
    assert 17 < pred["pickscore"][1] < 24  # back on PickScore's scale
    z = rm.standardised(["a photo of golden light cat dog house"])
    assert z["pickscore"][0] == pytest.approx((pred["pickscore"][0] - rm.mean[0]) / rm.std[0], abs=1e-4)

    reward = Reward(RewardConfig(kind="text", model=result["path"]))
    out = reward(["a cat"], ["make it golden"], ["a photo of golden light cat"], ["a photo of golden light cat"])
    assert out.ci == [1.0] and out.reward[0] == pytest.approx(out.scores["pickscore"][0] + out.scores["aesthetic"][0])


def test_reward_is_gated_by_content_integrity():
    def scorer(prompts):  # standardised scores, as the reward models give them
        return {"pickscore": [1.0] * len(prompts), "aesthetic": [0.5] * len(prompts)}

    reward = Reward(RewardConfig(w_pref=2.0, w_aes=1.0, ci_threshold=0.7, low_ci_reward=-1.0), scorer=scorer)
    src, ins, ref = "a horse in a field", "turn the horse into a zebra", "a zebra in a green field"
    out = reward([src] * 3, [ins] * 3, [ref] * 3,
                 ["a zebra in a green field, highly detailed", "a horse", ""])
    assert out.ci[0] >= 0.7 and out.reward[0] == pytest.approx(2.0 * 1.0 + 0.5)
    assert out.ci[1] < 0.7 and out.reward[1] == -1.0  # lost the edit's keywords
    assert out.ci[2] == 0.0 and out.reward[2] == -1.0  # empty output
    assert out.scores["pickscore"] == [1.0, 1.0, 0.0]  # the empty prompt was never scored


def test_reference_reward_terms_rank_applied_over_appended_edits():
    reward = Reward(RewardConfig(kind="reference", w_pref=0.0, w_aes=0.0, w_ci=1.0, w_removal=1.0, w_chrf=1.0,
                                 w_leak=1.0))
    src, ins, ref = "a horse in a field", "turn the horse into a zebra", "a zebra in a field"
    preds = ["a zebra in a field", "a horse and a zebra in a field",
             "a horse in a field, turn the horse into a zebra", "a field"]
    out = reward([src] * 4, [ins] * 4, [ref] * 4, preds)
    assert out.scores["removal"] == [1.0, 0.0, 0.0, 1.0]
    assert out.scores["leak"] == [0.0, 0.0, 1.0, 0.0]
    assert out.scores["chrf"][0] == pytest.approx(1.0) and out.scores["chrf"][1] < 1.0
    assert out.reward[0] == pytest.approx(3.0)  # ci 1 + removal 1 + chrF 1 - no leak
    assert out.reward[0] > out.reward[1] > out.reward[2]  # applied > appended > instruction pasted in
    assert out.ci[3] < 0.7 and out.reward[3] == -1.0  # dropping everything is stopped by the CI gate
    # a reference that drops nothing: removal counts as done, not as failed
    assert reward(["a cat"], ["make it snowy"], ["a cat in the snow"], ["a cat in the snow"]).scores["removal"] == [1.0]
    with pytest.raises(InvalidInput, match="at least one of w_ci"):
        Reward(RewardConfig(kind="reference"))


def test_reference_terms_add_to_the_score_reward():
    def scorer(prompts):
        return {"pickscore": [1.0] * len(prompts), "aesthetic": [0.0] * len(prompts)}

    reward = Reward(RewardConfig(w_pref=1.0, w_aes=1.0, w_removal=2.0), scorer=scorer)
    out = reward(["a horse in a field"] * 2, ["turn the horse into a zebra"] * 2, ["a zebra in a field"] * 2,
                 ["a zebra in a field", "a horse and a zebra in a field"])
    assert out.reward == pytest.approx([3.0, 1.0])
    assert set(out.scores) == {"pickscore", "aesthetic", "removal"}


def test_load_score_rows_skips_bad_rows(tmp_path):
    path = tmp_path / "scores.jsonl"
    path.write_text("\n".join([
        json.dumps({"prompt": "a cat", "pickscore": 20.1, "aesthetic": 5.5, "method": "x"}),
        json.dumps({"prompt": "", "pickscore": 20.1, "aesthetic": 5.5}),
        json.dumps({"prompt": "a dog", "pickscore": None, "aesthetic": 5.5}),
        "not json",
        json.dumps({"prompt": "a bird", "pickscore": 21, "aesthetic": 6}),
    ]) + "\n")
    assert [r["prompt"] for r in load_score_rows(path)] == ["a cat", "a bird"]
    assert len(load_score_rows(path, targets=["aesthetic"])) == 3
    with pytest.raises(InvalidInput, match="not found"):
        load_score_rows(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text(json.dumps({"prompt": "x"}) + "\n")
    with pytest.raises(InvalidInput, match="no rows"):
        load_score_rows(tmp_path / "empty.jsonl")


def test_bad_reward_configs(tmp_path):
    with pytest.raises(ModelLoadError, match="not a DiffChat reward model"):
        TextRewardModel.from_pretrained(tmp_path)
    with pytest.raises(InvalidInput, match="needs `model`"):
        Reward(RewardConfig(kind="text", model=None))
    with pytest.raises(InvalidInput, match="Unknown reward kind"):
        Reward(RewardConfig(kind="vibes"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: 1\nepochz: 2\n")
    with pytest.raises(InvalidInput, match="epochz"):
        RewardModelConfig.from_yaml(bad)


def test_reward_configs_load():
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[1] / "train" / "configs").glob("reward-*.yaml")):
        cfg = RewardModelConfig.from_yaml(path)
        assert cfg.targets == ["pickscore", "aesthetic"]
    paper = RewardModelConfig.from_yaml(Path(__file__).resolve().parents[1] / "train/configs/reward-paper.yaml")
    assert (paper.epochs, paper.lr, paper.weight_decay) == (1, 5e-6, 1e-3)  # the paper's RMs stage


def test_image_reward_renders_and_scores():
    """The option for GPU users: render each prompt and score the image (tiny pipeline + tiny scorers here)."""
    reward = Reward(RewardConfig(kind="image", backend="tiny", scorers="tiny", steps=2, device="cpu"))
    src, ins, ref = "a horse in a field", "turn the horse into a zebra", "a zebra in a field"
    out = reward([src, src], [ins, ins], [ref, ref], ["a zebra in a field", "a zebra in a field at night"])
    assert len(out.reward) == 2 and all(isinstance(r, float) for r in out.reward)
    assert set(out.scores) == {"pickscore", "aesthetic"}
    again = reward([src], [ins], [ref], ["a zebra in a field"])
    assert again.reward[0] == pytest.approx(out.reward[0], abs=1e-5)  # same seed, same image, same score

"""Representational similarity over a readout ensemble (signseg.metrics.similarity)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from signseg.errors import InvalidInputError
from signseg.metrics.similarity import (
    ZooEmbedder,
    as_embedder,
    cosine_matrix,
    mean_pairwise,
    representational_similarity,
    similarity_table,
)

SQRT2 = math.sqrt(2.0)
T_975_DF1 = 12.706204736174694


def pixels(*colours: tuple[float, float, float]) -> torch.Tensor:
    """One-pixel RGB images [n, 3, 1, 1] with the given colours."""
    return torch.tensor(colours, dtype=torch.float32).view(len(colours), 3, 1, 1)


def flatten(images: torch.Tensor) -> torch.Tensor:
    return images.flatten(1)


def inverted(images: torch.Tensor) -> torch.Tensor:
    return (1.0 - images).flatten(1)


def test_cosine_matrix_orthogonal_identical_and_opposite() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert torch.equal(cosine_matrix(a, a), torch.eye(2, dtype=torch.float64))
    assert float(cosine_matrix(a[:1], -3 * a[:1])) == pytest.approx(-1.0)
    # a zero embedding is dissimilar to everything (torch's convention)
    assert float(cosine_matrix(torch.zeros(1, 2), a[:1])) == 0.0
    with pytest.raises(InvalidInputError, match="different sizes"):
        cosine_matrix(a, torch.ones(1, 3))


def test_mean_pairwise_two_by_two_by_hand() -> None:
    control = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    ablated = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    # cosines: [[1/sqrt2, 1], [1/sqrt2, 0]] -> mean (sqrt2 + 1) / 4
    matrix = cosine_matrix(control, ablated)
    assert mean_pairwise(matrix) == pytest.approx((SQRT2 + 1.0) / 4.0, abs=1e-12)
    # within the control set only the pair (0, 1) counts: cosine 0
    assert mean_pairwise(cosine_matrix(control, control), exclude_diagonal=True) == 0.0
    with pytest.raises(InvalidInputError, match="square"):
        mean_pairwise(matrix[:1], exclude_diagonal=True)


def test_ensemble_similarity_by_hand() -> None:
    control = pixels((1, 0, 0), (0, 1, 0))
    ablated = pixels((1, 1, 0), (1, 0, 0))
    result = representational_similarity(control, ablated, {"id": flatten, "inv": inverted})
    # identity embedding: as the 2x2 example; ceiling cos((1,0,0),(0,1,0)) = 0
    # inverted: control (0,1,1), (1,0,1); ablated (0,0,1), (0,1,1)
    #   cosines [[1/sqrt2, 1], [1/sqrt2, 1/2]] -> (sqrt2 + 1.5) / 4; ceiling 1/2
    expected = {"id": (SQRT2 + 1.0) / 4.0, "inv": (SQRT2 + 1.5) / 4.0}
    assert result.per_embedder == pytest.approx(expected, abs=1e-12)
    assert result.ceiling == pytest.approx({"id": 0.0, "inv": 0.5}, abs=1e-12)
    assert result.mean == pytest.approx((2 * SQRT2 + 2.5) / 8.0, abs=1e-12)
    # two embedders differing by d = 1/8: sd = d / sqrt2, sem = sd / sqrt2 = d / 2
    half = T_975_DF1 * 0.0625
    assert (result.low, result.high) == pytest.approx((result.mean - half, result.mean + half))
    assert result.ceiling_mean == pytest.approx(0.25)
    frame = result.to_frame()
    assert list(frame.columns) == ["embedder", "similarity", "ceiling"]
    assert frame.set_index("embedder").loc["inv", "ceiling"] == pytest.approx(0.5)


def test_identical_sets_reach_one_and_single_embedder_has_no_interval() -> None:
    images = torch.rand(3, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    result = representational_similarity(images[:1].expand(3, -1, -1, -1), images[:1], [flatten])
    assert result.mean == pytest.approx(1.0) and result.ceiling_mean == pytest.approx(1.0)
    assert math.isnan(result.low) and math.isnan(result.high)
    assert list(result.per_embedder) == ["flatten"]


class _Counting:
    """An embedder with `embed` that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.name = "counting"

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return images.mean(dim=(2, 3))


def test_similarity_table_embeds_the_control_once_per_embedder() -> None:
    embedder = _Counting()
    control = pixels((1, 0, 0), (0, 1, 0))
    conditions = {("positive", 0.5): pixels((1, 0, 0)), ("negative", 0.5): pixels((0, 0, 1))}
    table = similarity_table(control, conditions, [embedder], progress=False)
    assert embedder.calls == 1 + len(conditions)
    values = {row.condition: row.similarity for row in table.itertuples()}
    assert values == pytest.approx({"ceiling": 0.0, ("positive", 0.5): 0.5, ("negative", 0.5): 0.0})
    with pytest.raises(InvalidInputError, match="reserved"):
        similarity_table(control, {"ceiling": control}, [embedder], progress=False)


def test_zoo_models_are_read_out_at_features_or_logits() -> None:
    crops = []
    zoo_model = SimpleNamespace(
        features=lambda x, crop=True: crops.append(crop) or x.flatten(1),
        logits=lambda x, crop=True: torch.cat([x.flatten(1), torch.ones(x.shape[0], 1)], dim=1),
        entry=SimpleNamespace(name="toy_net"),
        model=torch.nn.Identity(),
    )
    embedder = as_embedder(zoo_model)
    assert isinstance(embedder, ZooEmbedder) and embedder.name == "toy_net"
    images = pixels((1, 0, 0), (0, 1, 0))
    assert embedder.embed(images).shape == (2, 3)
    assert as_embedder(zoo_model, readout="logits").embed(images).shape == (2, 4)
    # penultimate: orthogonal -> 0; logits share the constant 1 -> 1/2
    assert mean_pairwise(cosine_matrix(*as_embedder(zoo_model).embed(images).split(1))) == 0.0
    logits = as_embedder(zoo_model, readout="logits").embed(images)
    assert mean_pairwise(cosine_matrix(logits[:1], logits[1:])) == pytest.approx(0.5)
    with pytest.raises(InvalidInputError, match="readout"):
        ZooEmbedder(zoo_model, readout="conv1")
    # natural images by default; generated images (preferred images) are not centre-cropped
    assert set(crops) == {True}
    as_embedder(zoo_model, crop=False).embed(images)
    similarity_table(images, {"x": images}, [zoo_model], progress=False, crop=False)
    assert crops[-3:] == [False, False, False]


def test_embedders_run_in_batches_without_gradients() -> None:
    seen: list[int] = []

    def record(images: torch.Tensor) -> torch.Tensor:
        seen.append(images.shape[0])
        assert not torch.is_grad_enabled()
        return images.flatten(1)

    from signseg.metrics.similarity import CallableEmbedder

    out = CallableEmbedder(record, batch_size=2).embed(torch.rand(5, 3, 2, 2))
    assert seen == [2, 2, 1] and out.shape == (5, 12) and out.dtype == torch.float64


def test_invalid_inputs_are_rejected_with_clear_errors() -> None:
    good = pixels((1, 0, 0), (0, 1, 0))
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        representational_similarity(good * 2.0, good, [flatten])
    with pytest.raises(InvalidInputError, match="at least two"):
        representational_similarity(good[:1], good, [flatten])
    with pytest.raises(InvalidInputError, match="unique"):
        representational_similarity(good, good, [flatten, flatten])
    with pytest.raises(InvalidInputError, match="embedder"):
        as_embedder(42)
    with pytest.raises(InvalidInputError, match=r"\[n, C, H, W\]"):
        representational_similarity(good[0], good, [flatten])

"""L-inf attacks: analytic optimum on linear classifiers, constraints, determinism, accuracy."""

import pytest
import torch
from torch import nn

from signseg import adversarial, zoo
from signseg.errors import InvalidInputError
from signseg.preprocessing import Preprocessing

SIZE = 4
EPS = 8.0  # units of 1/255


def _linear_problem(seed=0, classes=2):
    """A linear classifier of 3 x 4 x 4 pixels and images away from 0 and 1 (nothing clips)."""
    generator = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * SIZE * SIZE, classes))
    with torch.no_grad():
        model[1].weight.copy_(torch.randn(classes, 3 * SIZE * SIZE, generator=generator))
        model[1].bias.copy_(torch.randn(classes, generator=generator))
    images = 0.3 + 0.4 * torch.rand(6, 3, SIZE, SIZE, generator=generator)
    targets = torch.randint(0, classes, (6,), generator=generator)
    return model, images, targets


def _margins(model, images, targets, preprocessing=lambda x: x):
    """Logit of the target class minus the other class's (two classes)."""
    logits = model(preprocessing(images))
    chosen = logits.gather(1, targets[:, None])[:, 0]
    return chosen - logits.gather(1, (1 - targets)[:, None])[:, 0]


def _optimal_drop(model, targets, scale=1.0):
    """eps * ||w_y - w_j||_1 (in network-input units divided by ``scale``) per image."""
    w = model[1].weight.detach()
    difference = (w[0] - w[1]).abs().sum()
    return torch.full(targets.shape, EPS / 255 * float(difference) / scale)


@pytest.mark.parametrize("attack", ["pgd", "pgd_one_step", "fgsm_rs_two_eps"])
def test_attacks_reach_the_analytic_optimum_of_a_linear_classifier(attack):
    model, images, targets = _linear_problem()
    # normalisation by std 0.25: the attack must act on pixels, so the drop is 4x the pixel one
    spec = Preprocessing(size=SIZE, mean=(0.5,) * 3, std=(0.25,) * 3)
    if attack == "pgd":  # 10 random-start steps of 2.5 eps / 10 reach the ball's corner
        adv = adversarial.pgd(model, images, targets, EPS, preprocessing=spec, seed=1)
    elif attack == "pgd_one_step":  # one step of eps from the clean image is FGSM
        adv = adversarial.pgd(model, images, targets, EPS, steps=1, step_size=EPS,
                              random_start=False, preprocessing=spec)
    else:  # a step of 2 eps from any start in the ball ends on the corner
        adv = adversarial.fgsm_rs(model, images, targets, EPS, step_size=2 * EPS,
                                  preprocessing=spec, seed=2)
    with torch.no_grad():
        drop = _margins(model, images, targets, spec) - _margins(model, adv, targets, spec)
    assert drop == pytest.approx(_optimal_drop(model, targets, scale=0.25), rel=1e-4)


def test_fgsm_rs_matches_a_reference_implementation():
    model, images, targets = _linear_problem(seed=3)
    adv = adversarial.fgsm_rs(model, images, targets, EPS, seed=7)
    # Wong, Rice & Kolter 2020: delta ~ U(-eps, eps); delta += 1.25 eps sign(grad); clamp
    eps = EPS / 255
    noise = torch.rand(images.shape, generator=torch.Generator().manual_seed(7))
    delta = (2 * noise - 1) * eps
    direction = (model[1].weight[1 - targets] - model[1].weight[targets]).sign().view_as(images)
    delta = (delta + 1.25 * eps * direction).clamp(-eps, eps)
    assert torch.allclose(adv, (images + delta).clamp(0, 1), atol=1e-6)
    drop = _margins(model, images, targets) - _margins(model, adv, targets)
    assert (drop <= _optimal_drop(model, targets) * (1 + 1e-5)).all() and (drop > 0).all()


def test_perturbations_stay_in_the_ball_and_in_the_unit_cube():
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (5, 3, 8, 8), generator=generator, dtype=torch.uint8)
    images[0] = 0
    images[1] = 255  # every pixel on the boundary of [0, 1]
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 3))
    targets = torch.tensor([0, 1, 2, 0, 1])
    pixels = images.float() / 255
    for adv in (adversarial.pgd(model, images, targets, EPS, step_size=3.0, seed=1),
                adversarial.fgsm_rs(model, images, targets, EPS, seed=1)):
        assert adv.min() >= 0 and adv.max() <= 1
        assert (adv - pixels).abs().max() <= EPS / 255 + 1e-6
        assert (adv - pixels).abs().max() > EPS / 255 / 2  # the attack moved
    assert model[0].weight.grad is None  # parameters' gradients are left alone


def test_same_seed_same_examples_and_zero_epsilon_is_the_identity():
    model, images, targets = _linear_problem(seed=4)
    # 3 steps of 0.5 / 255 do not cross the 4 / 255 wide ball: the random start shows
    a = adversarial.pgd(model, images, targets, 2.0, steps=3, step_size=0.5, seed=5)
    b = adversarial.pgd(model, images, targets, 2.0, steps=3, step_size=0.5,
                        seed=torch.Generator().manual_seed(5))
    c = adversarial.pgd(model, images, targets, 2.0, steps=3, step_size=0.5, seed=6)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(adversarial.pgd(model, images, targets, 0.0), images)
    assert torch.equal(adversarial.fgsm_rs(model, images, targets, 0.0, seed=3), images)


def test_epsilons_are_validated():
    model, images, targets = _linear_problem()
    for bad in (-1.0, float("nan"), float("inf"), True, [1.0]):
        with pytest.raises(InvalidInputError, match="epsilon"):
            adversarial.pgd(model, images, targets, bad)
    with pytest.raises(InvalidInputError, match="step_size"):
        adversarial.pgd(model, images, targets, 1.0, step_size=0.0)
    with pytest.raises(InvalidInputError, match="steps"):
        adversarial.perturb(model, images, targets, 1.0, attack="fgsm_rs", steps=3)
    with pytest.raises(InvalidInputError, match="attack"):
        adversarial.perturb(model, images, targets, 1.0, attack="cw")


def test_robust_accuracy_of_zoo_models():
    model = zoo.load("procedural_resnet8", pretrained=False, train_config={"width": 4})
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (12, 3, 32, 32), generator=generator, dtype=torch.uint8)
    targets = model.logits(images).argmax(1)
    targets[:4] = (targets[:4] + 1) % 10  # 8 of 12 correct
    clean = adversarial.robust_accuracy(model, images, targets, 0.0, batch_size=5, progress=False)
    assert clean == pytest.approx(100 * 8 / 12)
    robust = adversarial.robust_accuracy(model, images, targets, 8.0, steps=3, batch_size=5,
                                         progress=False)
    again = adversarial.robust_accuracy(model, images, targets, 8.0, steps=3, batch_size=5,
                                        progress=False)
    assert robust == again and robust <= clean
    assert not model.model.training


def test_attacks_see_the_pixels_of_torchvision_models():
    # 40 px images are resized to resnet18's 224 px input inside the attack
    generator = torch.Generator().manual_seed(0)
    resnet = zoo.load("resnet18", pretrained=False)
    small = torch.rand(2, 3, 40, 40, generator=generator)
    labels = resnet.logits(small).argmax(1)
    assert adversarial.robust_accuracy(resnet, small, labels, 0.0, progress=False) == 100.0
    adv = adversarial.pgd(resnet.model, small, labels, 4.0, steps=1,
                          preprocessing=resnet.entry.preprocessing)
    assert adv.shape == small.shape and (adv - small).abs().max() <= 4 / 255 + 1e-6

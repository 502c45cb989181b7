"""Network input: torchvision's evaluation transform for natural images, whole-image resizing
for generated ones (every pixel of a generated image must be able to change the score)."""

import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from signseg import generators, zoo
from signseg.errors import InvalidInputError
from signseg.preprocessing import IMAGENET, Preprocessing

FRAME = 16  # AlexNet/VGG/ResNet18 crop 224 of a 256 px resize: a 16 px frame of a 256 px image


def _torchvision_eval(spec: Preprocessing) -> v2.Compose:
    return v2.Compose([
        v2.Resize(spec.resize_size, antialias=True),
        v2.CenterCrop(spec.size),
        v2.Normalize(spec.mean, spec.std),
    ])


@pytest.mark.parametrize("shape", [(300, 457), (457, 300), (256, 256), (261, 300)])
def test_natural_images_get_torchvision_eval_transform(shape):
    images = torch.rand(2, 3, *shape, generator=torch.Generator().manual_seed(0))
    for spec in (IMAGENET, zoo.info("resnet50").preprocessing):  # 256 / 224 and 232 / 224
        ours = spec(images)
        assert ours.shape == (2, 3, 224, 224)
        torch.testing.assert_close(ours, _torchvision_eval(spec)(images), atol=1e-5, rtol=0)


def test_non_square_image_keeps_its_aspect_ratio():
    # a wide image whose left third is bright: resizing the shorter side (200 -> 100, width
    # 300 -> 150) and cropping columns 25..124 keeps 25 bright columns of 100; squashing the
    # whole width to 100 before cropping would keep 33
    image = torch.zeros(1, 3, 200, 300)
    image[..., :100] = 1.0
    spec = Preprocessing(size=100, mean=(0.0,) * 3, std=(1.0,) * 3, resize_size=100)
    out = spec(image)
    assert out.shape == (1, 3, 100, 100)
    assert (out[0, 0, 50] > 0.5).sum().item() == 25
    tall = spec(image.transpose(-1, -2))
    torch.testing.assert_close(tall, out.transpose(-1, -2))


def test_resize_size_below_the_crop_is_rejected():
    with pytest.raises(InvalidInputError, match="resize_size"):
        Preprocessing(size=224, mean=(0.0,) * 3, std=(1.0,) * 3, resize_size=200)


def test_generated_images_are_resized_whole():
    images = torch.rand(3, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    spec = zoo.info("alexnet").preprocessing
    whole = spec(images, crop=False)
    expected = F.interpolate(images, size=(224, 224), mode="bilinear", antialias=True,
                             align_corners=False)
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    torch.testing.assert_close(whole, (expected - mean) / std)
    # the default (natural images) is the centre crop of the unchanged 256 px image
    torch.testing.assert_close(spec(images), ((images - mean) / std)[..., FRAME:-FRAME, FRAME:-FRAME])


def _frame_gradient(model: zoo.ZooModel, crop: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """|d logit / d pixel| of a 256 px image on its 16 px frame and in its centre."""
    image = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(2))
    image.requires_grad_(True)
    model.model(model.entry.preprocessing(image, crop=crop))[0, 1].backward()
    grad = image.grad.abs().sum(dim=(0, 1))
    frame = torch.ones(256, 256, dtype=torch.bool)
    frame[FRAME:-FRAME, FRAME:-FRAME] = False
    return grad[frame], grad[~frame]


def test_every_pixel_of_a_generated_image_can_change_the_score():
    model = zoo.load("resnet18", pretrained=False)
    frame, centre = _frame_gradient(model, crop=False)
    assert (frame > 0).all() and (centre > 0).all()
    frame, centre = _frame_gradient(model, crop=True)  # natural-image transform: frame lost
    assert (frame == 0).all() and (centre > 0).mean(dtype=torch.float) > 0.99


def test_render_for_and_zoo_model_score_generated_images_uncropped():
    model = zoo.load("resnet18", pretrained=False)
    pixel = generators.load("pixel", size=256)
    codes = torch.randn(1, pixel.code_dim, generator=torch.Generator().manual_seed(3))
    codes.requires_grad_(True)
    model.model(generators.render_for(model.entry.preprocessing, pixel, codes))[0, 7].backward()
    grad = codes.grad.view(3, 256, 256).abs().sum(0)
    assert (grad[:FRAME] > 0).all() and (grad[:, -FRAME:] > 0).all()
    images = pixel(codes.detach())
    whole = model.model(model.entry.preprocessing(images, crop=False)).detach()
    torch.testing.assert_close(model.logits(images, crop=False), whole, atol=1e-4, rtol=1e-4)
    cropped = model.model(model.entry.preprocessing(images)).detach()
    torch.testing.assert_close(model.logits(images), cropped, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(whole, cropped, atol=1e-3)

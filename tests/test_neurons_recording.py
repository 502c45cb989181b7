"""The recording format: validation, and .npz / netCDF / NWB files written and read back."""

import datetime

import numpy as np
import pandas as pd
import pytest

from signseg.errors import DamagedFileError, InvalidInputError
from signseg.neurons import formats, nwb
from signseg.neurons.recording import Recording


def _neurons(n=3):
    return pd.DataFrame({"neuron": [f"n{i}" for i in range(n)], "area": ["V1", "V4", "IT"][:n],
                         "session": ["s1", "s1", "s2"][:n], "monkey": ["C", "C", "D"][:n],
                         "channel": list(range(n))})


def _recording(seed=0, source="recorded"):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (4, 3, 6, 5), dtype=np.uint8)
    responses = rng.poisson(3, (4, 3, 3)) / 0.1  # spike counts in a 100 ms window
    responses[1, 2, 0] = np.nan  # image 1 shown only twice to neuron 0
    responses[3, 2, :] = np.nan  # image 3 shown only twice
    return Recording(images, responses, _neurons(), source)


def test_recording_fields_and_means():
    rec = _recording()
    assert (rec.n_images, rec.n_trials, rec.n_neurons) == (4, 3, 3)
    means = rec.mean_responses()
    assert means[1, 0] == pytest.approx(np.mean(rec.responses[1, :2, 0]))
    assert means[0, 2] == pytest.approx(rec.responses[0, :, 2].mean())
    assert rec.trial_counts()[1].tolist() == [2, 3, 3] and rec.trial_counts()[3].tolist() == [2, 2, 2]
    assert rec.image_ids == ("image-0", "image-1", "image-2", "image-3")
    sub = rec.select_neurons([2, 0])
    assert sub.neurons["neuron"].tolist() == ["n2", "n0"] and sub.responses.shape == (4, 3, 2)
    assert "3 recorded neurons (1 V1, 1 V4, 1 IT" in rec.describe()
    assert rec.float_images().max() <= 1.0


@pytest.mark.parametrize("change, message", [
    (lambda r: dict(r, responses=r["responses"][:3]), "3 images on its first axis but there are 4"),
    (lambda r: dict(r, neurons=r["neurons"].iloc[:2]), "has 3 neurons on its last axis but the neurons table has 2"),
    (lambda r: dict(r, neurons=r["neurons"].drop(columns="area")), r"lacks the columns \['area'\]"),
    (lambda r: dict(r, neurons=r["neurons"].assign(area=["V1", None, "IT"])), "1 neurons have no area"),
    (lambda r: dict(r, neurons=r["neurons"].assign(neuron=["a", "a", "b"])), "neuron names repeat"),
    (lambda r: dict(r, images=r["images"].astype(np.float32)), "images must be uint8"),
    (lambda r: dict(r, source="monkey"), "source must be one of"),
])
def test_invalid_recordings_name_the_problem(change, message):
    rec = _recording()
    fields = {"images": rec.images, "responses": rec.responses, "neurons": rec.neurons, "source": rec.source}
    with pytest.raises(InvalidInputError, match=message):
        Recording(**change(fields))


def test_nan_only_for_missing_trials_and_never_inf():
    rec = _recording()
    responses = rec.responses.copy()
    responses[2, :, 1] = np.nan
    with pytest.raises(InvalidInputError, match="NaN in every trial for 1 .* image 2 and neuron 1"):
        Recording(rec.images, responses, rec.neurons)
    responses = rec.responses.copy()
    responses[0, 0, 0] = np.inf
    with pytest.raises(InvalidInputError, match="infinite"):
        Recording(rec.images, responses, rec.neurons)


@pytest.mark.parametrize("suffix", [".npz", ".nc", ".nwb"])
def test_round_trip_in_every_format(tmp_path, suffix):
    rec = _recording(source="in-silico")
    path = formats.write(rec, tmp_path / f"recording{suffix}")
    back = formats.read(path)
    np.testing.assert_array_equal(back.images, rec.images)
    np.testing.assert_allclose(back.responses, rec.responses, equal_nan=True)
    pd.testing.assert_frame_equal(back.neurons, rec.neurons, check_dtype=False)
    assert back.source == "in-silico" and back.window == rec.window and back.image_ids == rec.image_ids


def test_npz_layout_is_plain_numpy(tmp_path):
    rec = _recording()
    path = formats.write_npz(rec, tmp_path / "r.npz")
    with np.load(path) as data:
        assert {"images", "responses", "neuron_area", "neuron_session", "neuron_monkey",
                "neuron_neuron", "neuron_channel"} <= set(data.files)
        assert data["neuron_area"].tolist() == ["V1", "V4", "IT"]


def test_nwb_file_holds_spikes_presentations_and_units(tmp_path):
    from pynwb import NWBHDF5IO

    rec = _recording()
    path = nwb.write_nwb(rec, tmp_path / "r.nwb")
    with NWBHDF5IO(str(path), "r") as io:
        f = io.read()
        presentations = f.stimulus["presentations"]
        # 4 images x 3 trials, minus image 3's third trial (nobody recorded)
        assert len(presentations.data[:]) == 11
        assert np.allclose(np.diff(presentations.timestamps[:]), nwb.PRESENTATION_PERIOD)
        units = f.units.to_dataframe()
        assert units["area"].tolist() == ["V1", "V4", "IT"]
        first = units["spike_times"].iloc[0]
        assert len(first) == int(np.nansum(rec.responses[:, :, 0]) * 0.1 + 0.5)
        # neuron 0 was not observed during image 1's third presentation
        assert len(units["obs_intervals"].iloc[0]) > len(units["obs_intervals"].iloc[1])


def test_spike_rates_by_hand():
    spikes = np.array([0.05, 0.08, 0.10, 0.169, 0.17, 0.33, 0.4])
    rates = nwb.spike_rates(spikes, np.array([0.0, 0.25]), (0.07, 0.17))
    # window [0.07, 0.17): 0.08, 0.10, 0.169 -> 3 spikes; [0.32, 0.42): 0.33, 0.4 -> 2 spikes
    np.testing.assert_allclose(rates, [30.0, 20.0])


def test_nwb_of_several_sessions_reads_into_one_recording(tmp_path):
    rec = _recording()
    first = nwb.write_nwb(rec.select_neurons([0, 1]), tmp_path / "a.nwb")
    second = nwb.write_nwb(rec.select_neurons([2]), tmp_path / "b.nwb",
                           session_start_time=datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc))
    both = nwb.read_nwb([first, second])
    np.testing.assert_allclose(both.responses, rec.responses, equal_nan=True)
    assert both.neurons["session"].tolist() == ["s1", "s1", "s2"]


def test_nwb_refuses_rates_that_are_not_spike_counts(tmp_path):
    rec = _recording()
    odd = Recording(rec.images, rec.responses + 1.234, rec.neurons)
    with pytest.raises(InvalidInputError, match="not spike counts .* write such rates as .npz or .nc"):
        nwb.write_nwb(odd, tmp_path / "odd.nwb")


def test_nwb_without_areas_or_presentations_is_refused(tmp_path):
    from pynwb import NWBHDF5IO, NWBFile

    f = NWBFile(session_description="x", identifier="x",
                session_start_time=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))
    f.add_unit(spike_times=[0.1])
    with NWBHDF5IO(str(tmp_path / "bare.nwb"), "w") as io:
        io.write(f)
    with pytest.raises(DamagedFileError, match="bare.nwb.*no stimulus series 'presentations'"):
        nwb.read_nwb(tmp_path / "bare.nwb")
    rec = _recording()
    path = nwb.write_nwb(rec, tmp_path / "r.nwb")
    with pytest.raises(DamagedFileError, match="r.nwb.*no stimulus series 'stimuli'"):
        nwb.read_nwb(path, presentations="stimuli")


def test_bad_files_raise_errors_naming_file_and_problem(tmp_path):
    rec = _recording()
    arrays = {"images": rec.images, "responses": rec.responses[:3], "neuron_neuron": np.array(["a", "b", "c"]),
              "neuron_area": np.array(["V1", "V4", "IT"]), "neuron_session": np.array(["s"] * 3),
              "neuron_monkey": np.array(["C"] * 3)}
    np.savez(tmp_path / "mismatch.npz", **arrays)
    with pytest.raises(DamagedFileError, match="mismatch.npz.*3 images on its first axis but there are 4"):
        formats.read(tmp_path / "mismatch.npz")
    arrays["responses"] = rec.responses
    del arrays["neuron_area"]
    np.savez(tmp_path / "noarea.npz", **arrays)
    with pytest.raises(DamagedFileError, match="noarea.npz.*neuron_area"):
        formats.read(tmp_path / "noarea.npz")
    (tmp_path / "empty.nc").write_bytes(b"")
    with pytest.raises(DamagedFileError, match="empty.nc.*empty"):
        formats.read(tmp_path / "empty.nc")
    (tmp_path / "junk.nwb").write_bytes(b"not hdf5 at all")
    with pytest.raises(DamagedFileError, match="junk.nwb.*cannot be read as an NWB file"):
        formats.read(tmp_path / "junk.nwb")
    with pytest.raises(InvalidInputError, match="suffix '.mat'"):
        formats.read(tmp_path / "data.mat")

"""Logger: CSV rows and TensorBoard scalars under the metric names, plus the hyperparameters."""

import struct

from tensorboardX.proto import event_pb2

from trpo.training.logger import Logger, read_metrics


def _events(folder):
    """Every Event in the TFRecord files under `folder` (length, crc, data, crc per record)."""
    events = []
    for path in sorted(folder.rglob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[offset + 12 : offset + 12 + length])
            events.append(event)
            offset += 12 + length + 4
    return events


def test_csv_and_tensorboard_get_the_same_metrics(tmp_path):
    logger = Logger(tmp_path, hparams={"env_id": "X-v0", "max_kl": 0.01, "hidden_sizes": [64, 64]})
    logger.write({"global_step": 100, "train/kl": 0.005, "rollout/ep_return_mean": float("nan")})
    logger.write({"global_step": 200, "train/kl": 0.007, "rollout/ep_return_mean": 12.5})
    logger.close()
    columns = read_metrics(tmp_path)
    assert columns["global_step"] == [100.0, 200.0]
    assert columns["train/kl"] == [0.005, 0.007]

    scalars = {}
    plugins = set()
    for event in _events(tmp_path / "tb"):
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name:
                plugins.add(value.metadata.plugin_data.plugin_name)
            if value.HasField("simple_value"):
                scalars.setdefault(value.tag, []).append((event.step, round(value.simple_value, 6)))
    assert scalars["train/kl"] == [(100, 0.005), (200, 0.007)]
    assert scalars["rollout/ep_return_mean"] == [(200, 12.5)]  # NaN (no episode yet) is not logged
    assert "hparams" in plugins  # TensorBoard's HParams tab
    assert "text" in plugins  # and the table of hyperparameters


def test_appending_keeps_the_existing_header(tmp_path):
    first = Logger(tmp_path, tensorboard=False)
    first.write({"global_step": 1, "a": 1.0, "b": 2.0})
    first.close()
    second = Logger(tmp_path, tensorboard=False)
    second.write({"global_step": 2, "b": 4.0, "a": 3.0, "new": 9.0})
    second.close()
    assert (tmp_path / "metrics.csv").read_text().splitlines() == ["global_step,a,b", "1,1.0,2.0", "2,3.0,4.0"]


def test_documented_columns_come_first_in_their_order_whatever_the_dicts_order(tmp_path):
    logger = Logger(tmp_path, tensorboard=False)
    logger.write({"train/kl": 0.01, "time/ray_wait_s": 0.5, "global_step": 8, "rollout/episodes": 2.0})
    logger.close()
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0]
    assert header == "global_step,rollout/episodes,train/kl,time/ray_wait_s"

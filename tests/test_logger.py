"""Logger: CSV rows and TensorBoard scalars under the metric names, plus the hyperparameters."""

import math
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


def test_metrics_row_has_the_documented_columns():
    from trpo.training.logger import METRIC_COLUMNS, episode_metrics, metrics_row

    train = {name: 0.5 for name in METRIC_COLUMNS if name.startswith("train/") and name != "train/skipped_updates"}
    times = {"sps": 10.0, "rollout_s": 1.0, "update_s": 2.0, "compile_s": 3.0}
    row = metrics_row(64, 1, times, episode_metrics([(10.0, 5), (20.0, 7)]), train, 2, {"rollout/worker_restarts": 0.0})
    assert set(row) == {*METRIC_COLUMNS, "rollout/worker_restarts"}  # the Logger writes them in its order
    # mean return (10 + 20) / 2 = 15, mean length (5 + 7) / 2 = 6
    assert (row["rollout/ep_return_mean"], row["rollout/ep_len_mean"], row["rollout/episodes"]) == (15.0, 6.0, 2.0)
    assert row["train/skipped_updates"] == 2.0 and row["time/update_s"] == 2.0
    assert all(math.isnan(v) for k, v in episode_metrics([]).items() if k != "rollout/episodes")

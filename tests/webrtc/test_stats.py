from gateway.delay_histogram import DelayHistogram


def test_delay_percentiles_at_tenth_of_millisecond_resolution():
    histogram = DelayHistogram()
    for ms in range(1, 101):  # 1..100 ms
        histogram.record(ms / 1000)
    assert abs(histogram.percentile(0.50) - 0.0501) < 1e-9
    assert abs(histogram.percentile(0.99) - 0.0991) < 1e-9
    assert histogram.maximum == 0.1 and histogram.total == 100


def test_outliers_land_in_the_last_bucket_and_reset_clears():
    histogram = DelayHistogram()
    histogram.record(30.0)
    histogram.record(-1.0)
    assert histogram.percentile(1.0) == 2.0 and histogram.maximum == 30.0
    histogram.reset()
    assert histogram.total == 0 and histogram.percentile(0.99) == 0.0

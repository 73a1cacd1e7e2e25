package ai.lsntp.job;

import ai.lsntp.avro.Forecast;
import java.io.Serializable;
import java.util.List;

/**
 * A test hook: each stage calls it for each element before doing its own work, so a test can make
 * one stage throw for one chosen record and check that the record (or window) lands on the
 * rejects topic as INTERNAL_ERROR while the job goes on. Production jobs have none.
 */
public interface StageProbe extends Serializable {
  default void validating(RawFrame record) {}

  default void windowing(Frame frame) {}

  default void forecasting(List<FrameWindow> batch) {}

  /** The calibration and verification stage, for each forecast it calibrates. */
  default void calibrating(Forecast forecast) {}

  default void alerting(Forecast forecast) {}
}

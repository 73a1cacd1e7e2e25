package ai.lsntp.job;

/** Why a frame was rejected (RejectedFrame.reason_code). */
public enum Reason {
  UNDECODABLE,
  UNKNOWN_GRID,
  UNSUPPORTED_UNITS,
  SHAPE_MISMATCH,
  GEOMETRY_MISMATCH,
  OFF_STEP_VALID_TIME,
  VALUE_OUT_OF_RANGE,
  NAN_OUTSIDE_MASK,
  ALL_MISSING,
  FUTURE_VALID_TIME,
  TOO_LARGE,
  LATE
}

package ai.lsntp.job;

/**
 * Why a record or a window was rejected (RejectedFrame.reason_code). deploy/OPERATIONS.md says
 * what each means and what an operator does about it; a test checks that it lists every one.
 */
public enum Reason {
  UNDECODABLE,
  /** A single-object record whose writer schema fingerprint is no published TemperatureFrame version. */
  UNKNOWN_SCHEMA,
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
  LATE,
  /** An unexpected exception while handling this one record or window; the job went on. */
  INTERNAL_ERROR,
  /** A window built for an alpha its grid's model, replaced meanwhile, no longer has. */
  MODEL_CHANGED
}

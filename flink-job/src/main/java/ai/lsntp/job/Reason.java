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
  MODEL_CHANGED,
  /** A frame tile whose record value is over stream.max-tile-bytes. */
  TILE_TOO_LARGE,
  /** A frame tile whose own place is impossible (index, count, rectangle, byte counts). */
  TILE_INVALID,
  /** Tiles of one frame that disagree (fields outside values and missing_mask, or the tile count): the frame is dropped. */
  TILE_INCONSISTENT,
  /** A tile number of a frame that came again while the frame was being assembled (the first is kept). */
  TILE_DUPLICATE,
  /** A tile covering cells another tile of its frame already covers. */
  TILE_OVERLAP,
  /** Tiles of a frame that did not make a whole frame by its deadline (valid time + allowed lateness), or that leave cells uncovered. */
  TILE_INCOMPLETE
}

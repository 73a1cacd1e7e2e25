package ai.lsntp.schemas;

/** Tiles that cannot be joined into their record, with what is wrong with them. */
public final class TileException extends Exception {
  private static final long serialVersionUID = 1L;

  /** What is wrong. */
  public enum Problem {
    /** A tile whose own place is impossible: index, count, lead or rectangle outside the record, blocks of the wrong size. */
    INVALID,
    /** Tiles of one record that disagree: on its fields outside the per-cell blocks, or on the tile count. */
    INCONSISTENT,
    /** A tile number that came twice. */
    DUPLICATE,
    /** A tile covering cells another tile of the record covers. */
    OVERLAP,
    /** Tiles missing, or cells no tile covers. */
    INCOMPLETE
  }

  public final Problem problem;

  public TileException(Problem problem, String message) {
    super(message);
    this.problem = problem;
  }
}

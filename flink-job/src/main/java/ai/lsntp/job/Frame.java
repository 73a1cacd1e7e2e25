package ai.lsntp.job;

/**
 * A validated frame: H*W kelvin values (missing cells filled), with where its record is on the
 * frames topic (so a later reject, e.g. LATE, can point at it without carrying its bytes).
 */
public class Frame {
  public String gridId;
  public long validTime;
  /** When the frame arrived (Kafka record timestamp), for end-to-end latency. */
  public long arrivalTime;
  public float[] values;
  /** Which cells were missing (filled for the model, left out of verification); null when none were. */
  public boolean[] missing;
  public String topic;
  public int partition;
  public long offset;
  /**
   * Null for a whole frame. For one tile of a frame (before {@link FrameTileAssembler} puts the
   * frame together): where it lies; {@code values} and {@code missing} then hold only its cells,
   * row-major, missing cells not yet filled.
   */
  public TilePart tile;
  /**
   * Not a frame but an operator's request to promote the grid's challenger of this name (no
   * values; {@link PromoteRequests}); null for every frame.
   */
  public String promote;

  public Frame() {}

  public Frame(String gridId, long validTime, long arrivalTime, float[] values) {
    this.gridId = gridId;
    this.validTime = validTime;
    this.arrivalTime = arrivalTime;
    this.values = values;
  }
}

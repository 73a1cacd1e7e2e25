package ai.lsntp.job;

/** alpha consecutive frames of one grid, oldest first, ready for one inference. */
public class FrameWindow {
  public String gridId;
  /** Valid time of the newest frame in the window: the forecast's issue time. */
  public long issueTime;
  /** Arrival of the frame that completed the window. */
  public long arrivalTime;
  /** alpha*H*W kelvin, frame-major then row-major. */
  public float[] values;
  /** The missing cells of the newest frame (null: none), so the forecast can carry that frame whole to verification. */
  public boolean[] newestMissing;
  /** Where the record of the frame that completed the window is (for a reject of the window). */
  public String topic;
  public int partition;
  public long offset;

  public FrameWindow() {}

  public FrameWindow(String gridId, long issueTime, long arrivalTime, float[] values) {
    this.gridId = gridId;
    this.issueTime = issueTime;
    this.arrivalTime = arrivalTime;
    this.values = values;
  }

  /** The window completed by frame {@code completing}, with that frame's source position. */
  static FrameWindow completedBy(Frame completing, long issueTime, float[] values) {
    FrameWindow w = new FrameWindow(completing.gridId, issueTime, completing.arrivalTime, values);
    w.topic = completing.topic;
    w.partition = completing.partition;
    w.offset = completing.offset;
    return w;
  }
}

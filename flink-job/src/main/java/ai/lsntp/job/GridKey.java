package ai.lsntp.job;

import org.apache.flink.api.java.functions.KeySelector;

/** Keys frames by grid id, so all frames of a grid meet in one keyed state. */
public class GridKey implements KeySelector<Frame, String> {
  private static final long serialVersionUID = 1L;

  @Override
  public String getKey(Frame f) {
    return f.gridId;
  }
}

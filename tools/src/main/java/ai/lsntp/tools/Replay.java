package ai.lsntp.tools;

import ai.lsntp.avro.TemperatureFrame;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Paces frames onto a {@link FramePublisher}: by their valid times (real time, or accelerated by a
 * factor), at a fixed wall-clock interval, or as fast as the producer takes them. Used by replay,
 * the demo and the benchmark. {@link #stop()} (Ctrl-C) ends a slow replay within 0.2 s.
 */
public final class Replay {
  private final double speed;
  private final long paceNanos;
  private volatile boolean stopRequested;

  private Replay(double speed, long paceNanos) {
    this.speed = speed;
    this.paceNanos = paceNanos;
  }

  /** Valid time paced: {@code speed} seconds of data per wall-clock second (1 = real time, 3600 = an hour a second). */
  public static Replay byValidTime(double speed) {
    return new Replay(speed, 0);
  }

  /** One frame every {@code pace}, whatever the valid times. */
  public static Replay everyInterval(Duration pace) {
    return new Replay(Double.POSITIVE_INFINITY, pace.toNanos());
  }

  /** As fast as the producer takes them. */
  public static Replay asFastAsPossible() {
    return new Replay(Double.POSITIVE_INFINITY, 0);
  }

  public void stop() {
    stopRequested = true;
  }

  public boolean stopped() {
    return stopRequested;
  }

  /**
   * Sends {@code frames} in order, at most {@code limit} of them (0: all), handing each to {@code
   * onSent} after it was sent; returns the number sent. Does not flush: call {@link
   * FramePublisher#flush()} to wait for the acknowledgements.
   */
  public long run(Iterable<TemperatureFrame> frames, long limit, FramePublisher out, Consumer<TemperatureFrame> onSent)
      throws InterruptedException {
    long startNanos = System.nanoTime();
    Instant firstValid = null;
    long n = 0;
    for (TemperatureFrame f : frames) {
      if ((limit > 0 && n >= limit) || stopRequested) {
        break;
      }
      if (paceNanos > 0) {
        sleepUntil(startNanos + n * paceNanos);
      } else if (speed != Double.POSITIVE_INFINITY) {
        if (firstValid == null) {
          firstValid = f.getValidTime();
        }
        sleepUntil(startNanos + (long) (Duration.between(firstValid, f.getValidTime()).toNanos() / speed));
      }
      if (stopRequested) {
        break;
      }
      out.send(f);
      n++;
      onSent.accept(f);
    }
    return n;
  }

  /** Whether frames go out back to back (the producer may then batch them). */
  public boolean unpaced() {
    return paceNanos == 0 && speed == Double.POSITIVE_INFINITY;
  }

  /** Sleeps in short steps so that stop() takes effect promptly. */
  private void sleepUntil(long dueNanos) throws InterruptedException {
    long wait;
    while (!stopRequested && (wait = dueNanos - System.nanoTime()) > 0) {
      TimeUnit.NANOSECONDS.sleep(Math.min(wait, 200_000_000L));
    }
  }
}

package ai.lsntp.job;

import ai.lsntp.cli.Lsntp;

/** Entry point of the Flink application jar: {@code flink run lsntp-flink-job-*-flink-app.jar [job options]}. */
public final class ForecastJobMain {
  private ForecastJobMain() {}

  public static void main(String[] args) {
    String[] withCommand = new String[args.length + 1];
    withCommand[0] = "job";
    System.arraycopy(args, 0, withCommand, 1, args.length);
    Lsntp.main(withCommand);
  }
}

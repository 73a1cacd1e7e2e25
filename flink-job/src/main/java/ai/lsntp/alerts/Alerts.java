package ai.lsntp.alerts;

import ai.lsntp.avro.Alert;
import ai.lsntp.avro.Forecast;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.util.OutputTag;

/** What the job's alerting shares: the alerts' type, the side output alerts leave a stage by, and what every alert says. */
public final class Alerts {
  public static final AvroTypeInfo<Alert> TYPE = new AvroTypeInfo<>(Alert.class);
  /** Alerts raised by a stage whose main output is something else (the verifier's skill rule). */
  public static final OutputTag<Alert> TAG = new OutputTag<>("alerts", TYPE);

  private Alerts() {}

  /** An alert of {@code rule} about {@code forecast}: its grid, issue time and model; the caller adds where, when and how much. */
  static Alert.Builder of(AlertRule rule, Forecast forecast) {
    return Alert.newBuilder()
        .setGridId(forecast.getGridId())
        .setRule(rule.name)
        .setKind(rule.kind.raises())
        .setIssueTime(forecast.getIssueTime())
        .setThreshold(rule.threshold)
        .setModelName(forecast.getModelName())
        .setModelVersion(forecast.getModelVersion());
  }
}

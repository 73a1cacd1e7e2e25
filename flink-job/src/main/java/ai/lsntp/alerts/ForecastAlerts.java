package ai.lsntp.alerts;

import ai.lsntp.avro.Alert;
import ai.lsntp.job.Reason;
import ai.lsntp.job.RejectMetrics;
import ai.lsntp.job.Rejects;
import ai.lsntp.job.StageProbe;
import ai.lsntp.job.WindowForecast;
import java.util.List;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * The stage after inference that judges each forecast by the heat, frost and change rules
 * ({@link AlertEvaluator}); the alerts are its output, at the forecast's issue time. The forecast
 * itself goes to its topic on another branch, so a rule that throws costs only the alerts: the
 * window goes to the rejects as INTERNAL_ERROR with the exception and the job goes on.
 */
public class ForecastAlerts extends ProcessFunction<WindowForecast, Alert> {
  private static final long serialVersionUID = 1L;

  private final AlertEvaluator rules;
  private final StageProbe probe;
  private transient Counter alertsOut;
  private transient Counter internalErrors;

  public ForecastAlerts(AlertEvaluator rules, StageProbe probe) {
    this.rules = rules;
    this.probe = probe;
  }

  @Override
  public void open(OpenContext ctx) {
    alertsOut = getRuntimeContext().getMetricGroup().counter("alertsOut");
    internalErrors = RejectMetrics.counter(getRuntimeContext().getMetricGroup(), Reason.INTERNAL_ERROR);
  }

  @Override
  public void processElement(WindowForecast f, Context ctx, Collector<Alert> out) {
    List<Alert> raised;
    try {
      if (probe != null) {
        probe.alerting(f.forecast);
      }
      raised = rules.evaluate(f.forecast, f.newestFrame);
    } catch (Exception | Error e) {
      Rejects.rethrowIfFatal(e);
      internalErrors.inc();
      ctx.output(Rejects.TAG, Rejects.ofForecast(Reason.INTERNAL_ERROR,
          Rejects.describe("evaluating the alert rules (the forecast was published)", e), f));
      return;
    }
    for (Alert a : raised) {
      out.collect(a);
      alertsOut.inc();
    }
  }
}

package ai.lsntp.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Benchmark harness (see docs/benchmarks.md). */
@Command(name = "java-bench", mixinStandardHelpOptions = true,
    description = "Throughput and latency through Kafka + Flink vs raw ONNX Runtime (writes nothing; prints figures).")
public class BenchCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    System.err.println("lsntp java-bench: not implemented yet");
    return 1;
  }
}

package ai.lsntp.job;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.api.connector.sink2.CommitterInitContext;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.SupportsCommitter;
import org.apache.flink.api.connector.sink2.SupportsWriterState;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.connector.kafka.sink.KafkaCommittable;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.sink.KafkaWriterState;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.streaming.api.connector.sink2.CommittableMessage;
import org.apache.flink.streaming.api.connector.sink2.SupportsPostCommitTopology;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.lineage.LineageVertex;
import org.apache.flink.streaming.api.lineage.LineageVertexProvider;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeTransactionsOptions;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.common.errors.InvalidTxnStateException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The job's exactly-once KafkaSink with a second opinion whenever its committer gives a
 * transaction up, so an operator reading the connector's ERROR need not guess.
 *
 * <p>Why: after every restart of an exactly-once job on a Kafka 4 broker (transaction protocol v2,
 * KIP-890), flink-connector-kafka's KafkaCommitter logs "Unable to commit transaction ... because
 * its producer is already fenced ... In both cases this most likely signals data loss" for each
 * sink whose transaction of the restored checkpoint had already been committed before the crash.
 * Flink commits a restored checkpoint's transactions again on recovery (it cannot know whether the
 * completion notice reached the task before it died). The connector's recovery producer resumes a
 * transaction without initTransactions, so it never learns that the broker runs protocol v2 and
 * sends its EndTxn as v1, which demands the exact producer epoch; the first commit, made under v2,
 * has already bumped that epoch, and the broker answers PRODUCER_FENCED. Nothing is lost, yet the
 * line says so. A transaction that really was lost (aborted by the broker: a transaction timeout,
 * say) ends in the same catch, or in the InvalidTxnStateException one, which the committer also
 * takes for "already aborted" and goes on. Both cases look alike in the log.
 *
 * <p>So on each such failure this asks Kafka's transaction coordinator what became of the
 * transaction and logs the answer next to the connector's line: a WARN when it was committed
 * (nothing lost), an ERROR when Kafka aborted it (its records are lost: they were written before
 * the restored checkpoint and will not be written again), and a WARN saying how to check when Kafka
 * can no longer tell. It changes nothing else: every call goes to the KafkaSink, whose writer,
 * committer, state, serializers and co-location are its own, so checkpoints and savepoints are
 * unaffected; only the failure path costs one Admin request (at most 10 s).
 */
public final class CommitCheckedSink<IN> implements Sink<IN>, SupportsWriterState<IN, KafkaWriterState>,
    SupportsCommitter<KafkaCommittable>, SupportsPostCommitTopology<KafkaCommittable>, LineageVertexProvider {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(CommitCheckedSink.class);
  static final Duration ASK_TIMEOUT = Duration.ofSeconds(10);

  private final KafkaSink<IN> sink;
  private final Properties kafka;
  private final String name;

  /**
   * @param kafka client properties of the sink's cluster (bootstrap servers and security), for the
   *     Admin client that asks the transaction coordinator
   * @param name the sink's name in the log lines (e.g. forecasts)
   */
  public CommitCheckedSink(KafkaSink<IN> sink, Properties kafka, String name) {
    this.sink = sink;
    this.kafka = kafka;
    this.name = name;
  }

  @Override
  public SinkWriter<IN> createWriter(WriterInitContext context) throws IOException {
    return sink.createWriter(context);
  }

  @Override
  public StatefulSinkWriter<IN, KafkaWriterState> restoreWriter(WriterInitContext context,
      Collection<KafkaWriterState> recoveredState) throws IOException {
    return sink.restoreWriter(context, recoveredState);
  }

  @Override
  public SimpleVersionedSerializer<KafkaWriterState> getWriterStateSerializer() {
    return sink.getWriterStateSerializer();
  }

  @Override
  public Committer<KafkaCommittable> createCommitter(CommitterInitContext context) throws IOException {
    return new CheckingCommitter(sink.createCommitter(context), kafka, name, context.getRestoredCheckpointId());
  }

  @Override
  public SimpleVersionedSerializer<KafkaCommittable> getCommittableSerializer() {
    return sink.getCommittableSerializer();
  }

  @Override
  public void addPostCommitTopology(DataStream<CommittableMessage<KafkaCommittable>> committables) {
    sink.addPostCommitTopology(committables); // the KafkaSink co-locates its writer and committer here
  }

  @Override
  public LineageVertex getLineageVertex() {
    return sink.getLineageVertex();
  }

  /** What Kafka's transaction coordinator says became of a transaction the committer gave up. */
  enum Outcome { COMMITTED, ABORTED, UNKNOWN }

  /**
   * The outcome of the transaction a committable names, from the coordinator's description of its
   * transactional id (null when the coordinator does not know the id). Only the coordinator's
   * latest transaction on the id is described, so it speaks for this one only when it is the same
   * producer id at the committable's epoch or one above it (protocol v2 bumps the epoch when a
   * transaction ends; v1 does not); anything later (another transaction, a re-initialised id, an
   * epoch overflow) and Kafka cannot tell.
   */
  static Outcome outcome(long producerId, short epoch, TransactionDescription d) {
    if (d == null || d.producerId() != producerId || d.producerEpoch() < epoch || d.producerEpoch() > epoch + 1) {
      return Outcome.UNKNOWN;
    }
    if (d.state() == TransactionState.COMPLETE_COMMIT) {
      return Outcome.COMMITTED;
    }
    if (d.state() == TransactionState.COMPLETE_ABORT) {
      return Outcome.ABORTED;
    }
    return Outcome.UNKNOWN;
  }

  /** The log line for a transaction the committer gave up, given what the coordinator said. */
  static String explain(String sinkName, KafkaCommittable c, OptionalLong restoredCheckpoint, Throwable why,
      TransactionDescription d, String askFailed, String bootstrap) {
    String id = c.getTransactionalId();
    String what = "transaction " + id + " of the " + sinkName + " sink (producer id " + c.getProducerId() + ", epoch "
        + c.getEpoch() + (restoredCheckpoint.isPresent() ? "; this task restored checkpoint " + restoredCheckpoint.getAsLong()
        : "; not a restored task") + "), which KafkaCommitter gave up with " + why.getClass().getSimpleName();
    String said = d == null ? "the coordinator does not know the id" + (askFailed == null ? "" : " (" + askFailed + ")")
        : "the coordinator reports " + d.state() + " for producer id " + d.producerId() + " at epoch " + d.producerEpoch();
    String confirm = "kafka-transactions.sh --bootstrap-server " + bootstrap + " describe --transactional-id " + id;
    switch (outcome(c.getProducerId(), c.getEpoch(), d)) {
      case COMMITTED:
        return "Checked with Kafka: " + what + ", was committed: " + said + ". Its records are visible to read_committed "
            + "consumers and nothing was lost; the connector's ERROR is this transaction's second commit, on recovery, "
            + "being refused: it was committed before the restart. To confirm: " + confirm + " (CompleteCommit), and one forecast per grid and "
            + "issue time (deploy/OPERATIONS.md, 'After a restart').";
      case ABORTED:
        return "Checked with Kafka: " + what + ", was ABORTED: " + said + ". Its records are not visible and will not be "
            + "written again (they came before the restored checkpoint): they are lost. Find the missing issue times per "
            + "grid (deploy/OPERATIONS.md, 'After a restart'). To confirm: " + confirm + " (CompleteAbort).";
      default:
        return "Checked with Kafka: " + what + ": Kafka can no longer tell whether it was committed (" + said
            + "). Check the output instead: one forecast per grid and issue time, no gap in issue times "
            + "(deploy/OPERATIONS.md, 'After a restart'); " + confirm + " shows the id's latest transaction.";
    }
  }

  /**
   * The KafkaCommitter, watched: each request passes through untouched, and when the committer
   * signals one failed because its producer was fenced or its transaction was in an invalid state,
   * the coordinator is asked about it once the committer is done with the batch.
   */
  static final class CheckingCommitter implements Committer<KafkaCommittable> {
    private final Committer<KafkaCommittable> committer;
    private final Properties kafka;
    private final String name;
    private final OptionalLong restoredCheckpoint;
    private Admin admin;

    CheckingCommitter(Committer<KafkaCommittable> committer, Properties kafka, String name, OptionalLong restoredCheckpoint) {
      this.committer = committer;
      this.kafka = kafka;
      this.name = name;
      this.restoredCheckpoint = restoredCheckpoint;
    }

    @Override
    public void commit(Collection<CommitRequest<KafkaCommittable>> requests) throws IOException, InterruptedException {
      List<GivenUp> givenUp = new ArrayList<>();
      List<CommitRequest<KafkaCommittable>> watched = new ArrayList<>(requests.size());
      for (CommitRequest<KafkaCommittable> r : requests) {
        watched.add(new Watched(r, givenUp));
      }
      committer.commit(watched);
      for (GivenUp g : givenUp) {
        check(g);
      }
    }

    private void check(GivenUp g) throws InterruptedException {
      String id = g.committable.getTransactionalId();
      TransactionDescription d = null;
      String askFailed = null;
      try {
        d = admin().describeTransactions(List.of(id), new DescribeTransactionsOptions().timeoutMs((int) ASK_TIMEOUT.toMillis()))
            .description(id).get(ASK_TIMEOUT.toMillis() + 1000, TimeUnit.MILLISECONDS);
      } catch (ExecutionException e) {
        askFailed = String.valueOf(e.getCause());
      } catch (TimeoutException | RuntimeException e) {
        askFailed = String.valueOf(e);
      }
      String line = explain(name, g.committable, restoredCheckpoint, g.why, d, askFailed, kafka.getProperty("bootstrap.servers"));
      if (outcome(g.committable.getProducerId(), g.committable.getEpoch(), d) == Outcome.ABORTED) {
        LOG.error(line);
      } else {
        LOG.warn(line);
      }
    }

    private Admin admin() {
      if (admin == null) {
        Properties p = new Properties();
        p.putAll(kafka);
        p.putIfAbsent("client.id", "lsntp-commit-check");
        admin = Admin.create(p);
      }
      return admin;
    }

    @Override
    public void close() throws Exception {
      try {
        committer.close();
      } finally {
        if (admin != null) {
          admin.close(Duration.ofSeconds(2));
        }
      }
    }
  }

  private record GivenUp(KafkaCommittable committable, Throwable why) {}

  /** A commit request passed through to Flink's, noting the failures worth a second opinion. */
  private static final class Watched implements Committer.CommitRequest<KafkaCommittable> {
    private final Committer.CommitRequest<KafkaCommittable> request;
    private final List<GivenUp> givenUp;

    Watched(Committer.CommitRequest<KafkaCommittable> request, List<GivenUp> givenUp) {
      this.request = request;
      this.givenUp = givenUp;
    }

    @Override
    public KafkaCommittable getCommittable() {
      return request.getCommittable();
    }

    @Override
    public int getNumberOfRetries() {
      return request.getNumberOfRetries();
    }

    @Override
    public void signalFailedWithKnownReason(Throwable t) {
      if (t instanceof ProducerFencedException || t instanceof InvalidTxnStateException) {
        givenUp.add(new GivenUp(request.getCommittable(), t));
      }
      request.signalFailedWithKnownReason(t);
    }

    @Override
    public void signalFailedWithUnknownReason(Throwable t) {
      request.signalFailedWithUnknownReason(t);
    }

    @Override
    public void retryLater() {
      request.retryLater();
    }

    @Override
    public void updateAndRetryLater(KafkaCommittable committable) {
      request.updateAndRetryLater(committable);
    }

    @Override
    public void signalAlreadyCommitted() {
      request.signalAlreadyCommitted();
    }

    /** Flink's request's: the connector's own log lines name the request, its transactional id included. */
    @Override
    public String toString() {
      return request.toString();
    }
  }
}

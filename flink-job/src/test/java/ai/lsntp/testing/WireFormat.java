package ai.lsntp.testing;

import static org.assertj.core.api.Assertions.assertThat;

import ai.lsntp.schemas.RecordCodec;
import ai.lsntp.schemas.SchemaCatalog;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/** What a subscriber relies on: every value starts with the single-object marker and a published fingerprint. */
public final class WireFormat {
  private WireFormat() {}

  /** Every value is single-object encoded with today's schema of {@code record} (e.g. "Forecast"). */
  public static void assertSingleObject(List<ConsumerRecord<byte[], byte[]>> records, String record) {
    SchemaCatalog.Version today = SchemaCatalog.builtIn().current(record);
    assertThat(records).as("%s records", record).isNotEmpty();
    for (ConsumerRecord<byte[], byte[]> r : records) {
      assertThat(RecordCodec.hasMarker(r.value())).as("%s at offset %d starts with C3 01", record, r.offset()).isTrue();
      assertThat(SchemaCatalog.hex(RecordCodec.fingerprintOf(r.value())))
          .as("%s at offset %d names today's writer schema", record, r.offset()).isEqualTo(today.fingerprintHex());
    }
  }
}

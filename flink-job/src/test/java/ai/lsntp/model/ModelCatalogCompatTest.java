package ai.lsntp.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.util.Map;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Test;

/**
 * The catalog is broadcast state, written by Flink's Kryo serializer field by field: a job resumed
 * from a checkpoint of the release before challengers must read the catalog that checkpoint holds.
 * The resource is a catalog (one grid, generation 7) serialised by that release's class (commit
 * afd76b5) with the serializer Flink picks for it; a new field in ModelCatalog made it unreadable.
 */
class ModelCatalogCompatTest {
  static TypeSerializer<ModelCatalog> serializer() {
    return TypeInformation.of(ModelCatalog.class).createSerializer(new SerializerConfigImpl());
  }

  @Test
  void aCatalogCheckpointedBeforeChallengersReadsAsOneWithout() throws Exception {
    byte[] old;
    try (InputStream in = getClass().getResourceAsStream("/compat/model-catalog-afd76b5.kryo")) {
      old = in.readAllBytes();
    }
    ModelCatalog c = serializer().deserialize(new DataInputDeserializer(old));
    assertThat(c.generation()).isEqualTo(7);
    assertThat(c.byGrid()).containsOnlyKeys("g");
    assertThat(c.forGrid("g").alpha).isEqualTo(6);
    assertThat(c.allChallengers()).isEmpty();
    assertThat(c.challengers("g")).isEmpty();
  }

  @Test
  void challengersTravelWithTheCatalogAndStayApartFromTheGrids() throws Exception {
    ModelSpec spec = new ModelSpec("p", "n", "v", "g", 6, 6, 3_600_000, 2, 2, 0, 0, 1, 1, "K", "sha");
    ModelCatalog c = new ModelCatalog(Map.of("g", spec), Map.of("g", Map.of("c1", spec), "h", Map.of("c2", spec)), 3);
    DataOutputSerializer out = new DataOutputSerializer(1024);
    serializer().serialize(c, out);
    ModelCatalog back = serializer().deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
    assertThat(back.byGrid()).containsOnlyKeys("g");
    assertThat(back.challengers("g")).containsOnlyKeys("c1");
    assertThat(back.challengers("h")).containsOnlyKeys("c2");
    assertThat(back.forGrid("h")).isNull();
    assertThat(back.largestFrameBytes()).isEqualTo(c.largestFrameBytes());
  }
}

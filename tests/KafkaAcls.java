// Test helper for tests/test_security_cluster.py: creates ALLOW ACLs with Kafka's own Admin client
// (aiokafka has no CreateAcls). Run as a single-file Java program with the stack's Kafka jars:
//   java -cp '<dist>/kafka-<v>/*' tests/KafkaAcls.java BOOTSTRAP USER,OPERATION,RESOURCE_TYPE,NAME ...
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class KafkaAcls {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put("bootstrap.servers", args[0]);
    List<AclBinding> bindings = new ArrayList<>();
    for (int i = 1; i < args.length; i++) {
      String[] f = args[i].split(",", 4);
      bindings.add(new AclBinding(
          new ResourcePattern(ResourceType.valueOf(f[2]), f[3], PatternType.LITERAL),
          new AccessControlEntry("User:" + f[0], "*", AclOperation.valueOf(f[1]), AclPermissionType.ALLOW)));
    }
    try (Admin admin = Admin.create(props)) {
      admin.createAcls(bindings).all().get();
    }
    System.out.println("created " + bindings.size() + " ACLs");
  }
}

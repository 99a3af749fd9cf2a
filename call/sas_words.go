package call

// sasWords is the SAS word list: 256 distinct, sorted, lowercase English
// nouns, so one byte picks one word. Index i is the i-th word; the browser
// page must ship the identical list (docs/ice-policy.md).
var sasWords = [256]string{
	"acorn", "actor", "adobe", "agent", "alarm", "album", "alley", "amber",
	"anchor", "angel", "ankle", "apple", "apron", "arena", "armor", "arrow",
	"aspen", "atlas", "attic", "autumn", "badge", "bagel", "baker", "bamboo",
	"banjo", "barn", "basin", "basket", "beach", "beacon", "beard", "beaver",
	"berry", "bison", "blade", "blanket", "blossom", "boat", "bonnet", "bottle",
	"boulder", "bracket", "branch", "bread", "breeze", "brick", "bridge", "brook",
	"broom", "bucket", "buffalo", "bugle", "butter", "button", "cabin", "cactus",
	"camel", "candle", "canoe", "canyon", "carpet", "carrot", "castle", "cedar",
	"cello", "chalk", "cherry", "chess", "chimney", "cider", "circus", "clock",
	"cloud", "clover", "cobra", "cocoa", "comet", "copper", "coral", "cotton",
	"cougar", "crane", "crayon", "cricket", "crown", "crystal", "curtain", "daisy",
	"dancer", "delta", "desert", "diamond", "dinner", "dolphin", "donkey", "dragon",
	"drum", "eagle", "easel", "echo", "elbow", "ember", "engine", "falcon",
	"feather", "fence", "fern", "ferry", "fiddle", "flame", "flute", "forest",
	"fossil", "fox", "garden", "garlic", "geyser", "ginger", "glacier", "globe",
	"goose", "grape", "gravel", "guitar", "hammer", "harbor", "harp", "hazel",
	"helmet", "heron", "hollow", "honey", "horizon", "hornet", "island", "ivory",
	"jacket", "jaguar", "jasmine", "jelly", "jewel", "jungle", "kayak", "kettle",
	"kiwi", "koala", "ladder", "lagoon", "lantern", "lemon", "leopard", "lily",
	"lizard", "llama", "lobster", "locket", "lotus", "magnet", "mango", "maple",
	"marble", "meadow", "melon", "meteor", "mirror", "mitten", "monkey", "moose",
	"mosaic", "muffin", "mustard", "needle", "nest", "nickel", "noodle", "nutmeg",
	"oasis", "ocean", "olive", "onion", "orbit", "orchid", "otter", "oyster",
	"paddle", "palace", "panda", "panther", "parrot", "peach", "pebble", "pelican",
	"pepper", "piano", "pigeon", "pillow", "pine", "planet", "plum", "pocket",
	"pony", "poppy", "potato", "prism", "puddle", "pumpkin", "puzzle", "quail",
	"quartz", "quilt", "rabbit", "radar", "radish", "raven", "ribbon", "river",
	"robin", "rocket", "saddle", "salmon", "sandal", "saturn", "scarf", "shadow",
	"shell", "silver", "sketch", "sparrow", "spider", "spoon", "squid", "stable",
	"statue", "stone", "sunset", "swan", "table", "teapot", "tiger", "tomato",
	"topaz", "tulip", "tunnel", "turtle", "valley", "velvet", "violin", "volcano",
	"wagon", "walnut", "walrus", "whale", "willow", "window", "yacht", "zebra",
}

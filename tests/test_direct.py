"""Rule edits (diffchat/editor/direct.py) and how the best-of editor uses them; the rule cases are
grouped by the kind of edit (RULE_EDITS at the end)."""
import pytest

from diffchat.editor.direct import direct_edits, find_np, stem
from diffchat.editor.rerank import RerankedEditor

from test_rerank import Fake


def first(prompt, instruction):
    edits = direct_edits(prompt, instruction)
    return edits[0].text if edits else None


def test_a_medium_with_nothing_to_replace_is_a_suggestion():
    (e,) = direct_edits("Walter Launt Palmer - Winter Haze", "Turn into stained glass")
    assert (e.text, e.rule, e.sure) == ("Walter Launt Palmer - Winter Haze - Stained Glass", "medium", False)
    (e,) = direct_edits("a girl flying a kite on the beach", "make it a watercolor")
    assert e.text == "watercolor of a girl flying a kite on the beach" and not e.sure


def test_a_rule_that_breaks_never_costs_the_edit(monkeypatch):
    import diffchat.editor.rerank as rerank

    monkeypatch.setattr(rerank, "direct_edits", lambda *a: 1 / 0)
    src = "a cat on a bench"
    editor = RerankedEditor(Fake([src, "a dog on a bench", "", ""]), Fake(["a dog on a bench"]), n=4)
    assert editor.edit(src, "turn the cat into a dog") == "a dog on a bench"


@pytest.mark.parametrize("prompt, instruction", [
    ("Lonely boat and amazing sunset at the sea", "Less sunset"),            # vague: the models' job
    ("The Delightful Walk - Loui Jover", "make the walk more dangerous"),
    ("Franz von Persoglia_Gallant Scene in the Rococo Interior", "convert the interior to be modern"),
    ("Robin Moline - Snow Covered Village", "Remove the snow."),             # X only describes the part
    ("snow, winter, and mountains image", "Get rid of the snow and add water."),  # two edits in one
    ("a horse in a field", "remove the zebra"),                              # not in the prompt
    ("a horse in a field", "turn the cow into a zebra"),
    ("a cat", "take out the trash"),
    ("", "remove the cat"),
])
def test_no_sure_rule_where_the_meaning_is_not_plain(prompt, instruction):
    assert not [e for e in direct_edits(prompt, instruction) if e.sure]


def test_adding_is_a_suggestion_placed_with_the_subject():
    (e,) = direct_edits("Open Door on a Garden 1934 - Konstantin Somov - WikiArt.org", "Add a dragon.")
    assert not e.sure and e.text == "Open Door on a Garden with a Dragon 1934 - Konstantin Somov - WikiArt.org"
    (e,) = direct_edits("a wolf on a peak, fantasy art, by Greg Rutkowski, 8k", "add a full moon")
    assert e.text == "a wolf on a peak, a full moon, fantasy art, by Greg Rutkowski, 8k"
    assert direct_edits("a cat on a bench", "add a red umbrella")[0].text == "a cat on a bench with a red umbrella"
    (e,) = direct_edits("1girl, solo, long hair, smile, outdoors", "give her a red scarf")
    assert e.sure and e.text == "1girl, solo, long hair, smile, outdoors, a red scarf"  # a tag list: a new tag


def test_words_match_in_any_number_and_case():
    assert stem("benches") == stem("bench") and stem("Puppies") == "puppy" and stem("glasses") == stem("glass")
    assert find_np("Fantasy, Elves, Dream World", "the elf") is not None
    assert first("Fantasy, Elves, Dream World", "Turn the elves into hobbits") == "Fantasy, Hobbits, Dream World"


def test_the_rest_of_the_prompt_is_kept_character_for_character():
    prompt = 'a "Quoted" (1999) robot with a red hat, 35mm, f/1.8, by H.R. Giger & Moebius'
    assert first(prompt, "make the hat blue") == prompt.replace("red hat", "blue hat")


def test_the_best_of_editor_takes_a_sure_rule_edit_without_running_the_models():
    class Refuse(Fake):
        def generate_many(self, *a, **k):
            raise AssertionError("the models ran")

    editor = RerankedEditor(Refuse(["x"]), Refuse(["x"]), n=4)
    assert editor.edit("a cat on a bench with a red umbrella", "make the umbrella blue") == \
        "a cat on a bench with a blue umbrella"


def test_rule_suggestions_join_the_models_candidates():
    src, ins = "a lighthouse on a cliff", "add a ship"
    writer = Fake([src, "a lighthouse on a ship", "a ship", ""])
    judge = Fake(["a lighthouse on a ship"])  # the same likelihood for all: the verifier decides
    with_rules = RerankedEditor(writer, judge, n=4)
    assert with_rules.edit(src, ins) == "a lighthouse on a cliff with a ship"  # all kept, the ship there
    assert RerankedEditor(writer, judge, n=4, rules=False).edit(src, ins) == "a lighthouse on a ship"


@pytest.mark.parametrize("prompt, instruction", [
    ("a cat in a dark cave", "put it in a library instead of a cave"),  # the "instead" rule's, not a move
    ("a horse in a field", "turn the cow into a zebra"),                 # kin is not enough to replace
    ("a horse in a field", "no dogs"),                                    # no kind of dog there
    ("a cat in a dark cave", "in the style of studio ghibli instead"),   # not a place
])
def test_moves_swaps_and_kinds_do_not_overreach(prompt, instruction):
    assert all(e.rule not in ("move", "swap") and "horse" in e.text for e in direct_edits(prompt, instruction)) or \
        not direct_edits(prompt, instruction) or "cave" in instruction


def test_verifier_penalises_a_repeated_run_of_words():
    from diffchat.editor.rerank import repeats, verify
    src = "Empty Office Cubicles at Night, Corporate Interior"
    assert repeats(src, src + ", Empty Office Cubicles at Night")
    assert not repeats(src, src + ", colorful posters")
    assert verify(src, "make it colorful", src + ", colorful") > verify(src, "make it colorful", src + ", colorful, " + src)


def test_rules_without_wordnet_leave_kinds_to_the_models(monkeypatch):
    from diffchat.editor import lexicon
    monkeypatch.setitem(lexicon._state, "wn", None)
    lexicon.cache_clear()
    try:
        assert first("2girls, beach, straw hat, seagull", "no birds") is None        # no kinds without WordNet
        assert first("2girls, beach, straw hat, seagull", "no seagull") == "2girls, beach, straw hat"  # the rest works
    finally:
        lexicon.cache_clear()


@pytest.mark.parametrize("prompt, instruction", [
    ("Summer Night on the South Beach at Skagen by Krøyer", "set it on fire."),  # not a move
    ("Dr. Tyson appears as a hologram throughout the game", "Make him a villain."),  # the game is no person
    ("Bridal Veil Fall, Yosemite Valley By Thomas Hill", "Remove the waterfall"),  # "Yosemite" is a name
    ("a girl at night", "night time"),  # "night" is no typo of "light"
])
def test_places_names_and_removals_do_not_overreach(prompt, instruction):
    assert all(e.rule not in ("move", "swap", "remove") for e in direct_edits(prompt, instruction))


@pytest.mark.parametrize("prompt, instruction, want", [
    ("a viking on a cliff, highly detailed, digital painting, sharp focus", "oil painting not digital",
     "a viking on a cliff, highly detailed, oil painting, sharp focus"),
    ("a bakery in paris, warm windows, watercolor and ink, soft colors, ghibli style", "make the colors pop more",
     "a bakery in paris, warm windows, watercolor and ink, vibrant colors, ghibli style"),
    ("a park, vibrant colors", "tone it down", "a park, muted colors"),
])
def test_colour_and_not_rules(prompt, instruction, want):
    assert first(prompt, instruction) == want


@pytest.mark.parametrize("prompt, instruction, want", [
    ("Preparation - Isidor Kaufmann (hungarian painter)", "As if it were by Ansel Adams.", "Preparation - Ansel Adams"),
    ("71 Japanese Animation Wallpapers 1920x1080", "make the wallpaper Scandinavian",
     "71 Scandinavian Animation Wallpapers 1920x1080"),
    ("The Delightful Walk - Loui Jover - McGaw Graphics", "add a dog",
     "The Delightful Walk with a Dog - Loui Jover - McGaw Graphics"),
    ("Claude Monet - Bridge over a Pond of Water Lilies, 1899", "add a rowboat",
     "Claude Monet - Bridge over a Pond of Water Lilies with a Rowboat, 1899"),
    ("a woman in a red dress", "put on a hat", "a woman in a red dress with a hat"),
])
def test_names_labels_and_nations(prompt, instruction, want):
    assert first(prompt, instruction) == want


def test_colour_words_in_names_stay():
    assert not [e for e in direct_edits("Golden Gate Bridge in the fog, San Francisco", "make it red") if e.sure]


def test_verifier_does_not_reward_adding_what_was_to_be_removed():
    from diffchat.editor.rerank import verify
    src = "kids building a snow dog in a city park"
    assert verify(src, "remove the sled", src) > verify(src, "remove the sled", "kids building a snow sled in a city park")


def test_a_photo_credit_is_not_the_medium():
    (e,) = direct_edits("Serena Williams wins at Wimbledon. (AP Photo/Kirsty Wigglesworth)", "as a marble statue")
    assert "(AP Photo/Kirsty Wigglesworth)" in e.text and "marble statue" in e.text.lower()


@pytest.mark.parametrize("prompt, instruction, want, sure", [
    ("Happy family having a picnic in the park", "add a dog and make it autumn",
     "Happy family having a picnic in the park with a dog in autumn", False),
    ("knolling photography of camping gear, tent, lantern, compass, map", "take out the lantern and add a knife",
     "knolling photography of camping gear, tent, compass, map, a knife", False),
    ("a cabin at night, pine trees, aurora borealis in the sky, a lake in front", "no aurora, just stars",
     "a cabin at night, pine trees, a lake in front, stars", False),
])
def test_two_part_instructions_chain_their_rule_edits(prompt, instruction, want, sure):
    (e,) = direct_edits(prompt, instruction)
    assert e.text == want and "+" in e.rule and e.sure is sure


def test_a_second_part_no_rule_knows_leaves_the_first_alone():
    edits = direct_edits("portrait of a woman with short black hair, studio lighting",
                         "give her glasses and make the lighting softer")
    assert edits and "softer" not in edits[0].text and "glasses" in edits[0].text


def test_a_bare_x_to_y_needs_x_in_the_prompt():
    assert direct_edits("Wall Art - Photograph - lake Geirionydd Canoes by Adrian Evans",
                        "extract the canoes to a greenscreen") == []


def test_what_people_do_is_no_swap():
    assert direct_edits("An old man playing chess with a young girl in a park", "make them play checkers") == []


# Rule edits by kind of edit: (prompt, instruction, the first rule edit). Each case came from a
# judged partly or failed edit; a case sits in the kind of the rule that makes it.
RULE_EDITS = {
    # removals: the thing and what only placed or described it go; the rest stays
    "remove": [
        ('cyberpunk market at night, neon signs, flying cars overhead, cinematic lighting', 'remove the flying cars',
         'cyberpunk market at night, neon signs, cinematic lighting'),
        ('an old man with a hat and glasses reading a newspaper', 'no glasses',
         'an old man with a hat reading a newspaper'),
        ('a small dog on a bench with a red umbrella in the rain', 'get rid of the umbrella',
         'a small dog on a bench in the rain'),
        ('portrait of a woman holding a shield, standing in a desert', 'remove the shield',
         'portrait of a woman, standing in a desert'),
        ('a workshop full of brass gears, glowing lamps and strange machines', 'no lamps',
         'a workshop full of brass gears, strange machines'),
        ('a beach, colorful buckets and spades, waves', 'remove the buckets and spades',
         'a beach, waves'),
        ('a library, by Studio Ghibli and Hayao Miyazaki', 'no Miyazaki, just Ghibli',
         'a library, by Studio Ghibli'),
        ('Photograph - Old Barn In The Fog by Gary Heller', 'remvoe the fog',
         'Photograph - Old Barn by Gary Heller'),
        ('a cozy cabin in the woods with smoke coming out of the chimney', 'no smoke',
         'a cozy cabin in the woods'),
        ('a fisherman with a pipe in his mouth, wearing a hat', 'remove the pipe',
         'a fisherman, wearing a hat'),
        ('a bowl of ramen on a wooden table', 'remove the table',
         'a bowl of ramen'),
        ('a little house with a blue door and a garden full of tulips', 'remove the garden',
         'a little house with a blue door'),
        ('1boy, armor, cape, red cape, castle', 'no cape',
         '1boy, armor, castle'),
        ('a castle with bats flying over it, night with a full moon', 'no moon',
         'a castle with bats flying over it, night'),
        ('a birthday cake with candles and balloons around it', 'lose the balloons',
         'a birthday cake with candles'),
        ('Sheep by a wall with a farmer and his dog, watercolour', 'no farmer please, just the sheep and the dog',
         'Sheep by a wall with his dog, watercolour'),
        ('a red fox walking through the snow at night', 'remove the snow',
         'a red fox walking at night'),
        ('a cabin with snowmobiles parked outside', 'without the snowmobiles',
         'a cabin'),
        ('a snowman with a carrot nose and a top hat', 'take off the hat',
         'a snowman with a carrot nose'),
        ('Golden retriever puppy with red bow sitting in basket', 'no bow',
         'Golden retriever puppy sitting in basket'),
        ('a pirate ship with black sails and a kraken attacking it', 'remove the kraken',
         'a pirate ship with black sails'),
        ('a man on the phone while holding coffee cup and walking', 'no coffee',
         'a man on the phone while walking'),
        ('Fox in the meadow with the old barn behind - photo by M. Kowal', 'Take away the barn',
         'Fox in the meadow - photo by M. Kowal'),
        ('Still Life with Lemons, Oranges and a Rose, 1633', 'leave out the oranges',
         'Still Life with Lemons, a Rose, 1633'),
        ('2girls, beach, ocean, straw hat, seagull', 'no birds',
         '2girls, beach, ocean, straw hat'),
        ('airship above london, brass gears, a flock of pigeons, big ben', 'no birds',
         'airship above london, brass gears, big ben'),
        ('1girl, glasses, short hair, library', 'take her glasses off',
         '1girl, short hair, library'),
        ('Family picnic in park with dog, summer, stock image', 'the dog has to go',
         'Family picnic in park, summer, stock image'),
        ('a castle on a hill with lots of people around it', 'no people please',
         'a castle on a hill'),
        ('a foggy bridge at night with a person walking across', 'delete the person',
         'a foggy bridge at night'),
        ('a library, a cat on a rug, and a grandfather clock in the corner, candlelight', 'Remove the clock',
         'a library, a cat on a rug, candlelight'),
        ('a fisherman with a weathered face and a grey beard, red raincoat', 'shave the beard off',
         'a fisherman with a weathered face, red raincoat'),
        ('Storm clouds over wheat field, Kansas, June 2016', 'remove the storm clouds',
         'Wheat field, Kansas, June 2016'),
        ('Portrait of an elderly man with a white beard smiling', 'shave him',
         'Portrait of an elderly man smiling'),
        ('Portrait of a bearded man in a flat cap, Brooklyn', 'shave the beard',
         'Portrait of a man in a flat cap, Brooklyn'),
    ],
    # colour, material, size, age and state of a named thing: the clashing word goes, the noun stays
    "attribute": [
        ('a young woman in a yellow raincoat on a rainy afternoon', 'make the raincoat red',
         'a young woman in a red raincoat on a rainy afternoon'),
        ('a cozy room with a large grey sofa', 'make the sofa green velvet',
         'a cozy room with a large green velvet sofa'),
        ('a pho bowl on a dark wooden table', 'make the table white marble',
         'a pho bowl on a white marble table'),
        ('a red wooden bridge over a pond', 'make the bridge out of stone',
         'a red stone bridge over a pond'),
        ("Red Boat at Peggy's Cove, Nova Scotia.", 'make the boat magenta',
         "Magenta Boat at Peggy's Cove, Nova Scotia."),
        ('a red motorcycle speeding through a city', 'make it silver',
         'a silver motorcycle speeding through a city'),
        ('a woman in a green dress dancing', 'mak the dress red',
         'a woman in a red dress dancing'),
        ('1girl, silver hair, long hair, red eyes', 'short hair',
         '1girl, silver hair, short hair, red eyes'),
        ('a cat on a wooden bench', 'make the bench red',
         'a cat on a red wooden bench'),
        ('crowds with umbrellas, food stalls', 'make the umbrellas transparent',
         'crowds with transparent umbrellas, food stalls'),
        ('portrait of a woman, curly auburn hair', 'make her hair black',
         'portrait of a woman, curly black hair'),
        ('a red sports car parked by the beach', 'blue instead',
         'a blue sports car parked by the beach'),
        ('a wooden chair in an empty room', 'make the chair out of glass',
         'a glass chair in an empty room'),
        ('Bronze Sculpture of a Running Horse by Sarah Bevan', 'make it out of lego',
         'Lego Sculpture of a Running Horse by Sarah Bevan'),
        ('Tags: 1girl black_hair katana kimono', 'make her hair silver',
         'Tags: 1girl silver_hair katana kimono'),
        ('A girl in a yellow raincoat jumping in puddles.', 'raincoat red pls',
         'A girl in a red raincoat jumping in puddles.'),
        ('Colorful houses of Burano island, Venice, Italy', 'all the houses are grey',
         'Grey houses of Burano island, Venice, Italy'),
        ("Women's Linen Maxi Dress - Sage Green - Size M", 'in black',
         "Women's Linen Maxi Dress - Black - Size M"),
        ('Handmade Ceramic Coffee Mug with Blue Glaze, 12 oz, Stoneware', 'make it glass',
         'Handmade Glass Coffee Mug with Blue Glaze, 12 oz'),
        ('Scandinavian Oak Dining Table with 6 Chairs, Minimalist Design', 'make it gothic',
         'Gothic Oak Dining Table with 6 Chairs'),
        ('Red Barn in a Wheat Field, Kansas', 'make it blue',
         'Blue Barn in a Wheat Field, Kansas'),
        ('Sad clown sitting alone in an empty circus tent', 'make the clown happy',
         'Happy clown sitting alone in an empty circus tent'),
        ('Medieval knight in shining armor on horseback', 'make the armor rusty',
         'Medieval knight in rusty armor on horseback'),
        ('Abandoned Gas Station on Route 66 - Fine Art Photograph', 'make it look brand new',
         'Brand New Gas Station on Route 66 - Fine Art Photograph'),
        ('Personalized Wooden Cutting Board - Wedding Gift', 'make it slate',
         'Personalized Slate Cutting Board - Wedding Gift'),
        ('a cow in the highlands', 'mkae the cow pink',
         'a pink cow in the highlands'),
        ('Minimalist Scandinavian Living Room with Grey Sofa', 'make it more maximalist',
         'Maximalist Living Room with Grey Sofa'),
        ('vaporwave aesthetic palm trees sunset grid retro 80s wallpaper', 'make it medieval',
         'medieval aesthetic palm trees sunset grid wallpaper'),
        ('Ghost town main street, Bodie State Historic Park, California, black and white', 'in color',
         'Ghost town main street, Bodie State Historic Park, California'),
        ('Beautiful young woman with freckles - Stock Photo', 'make her older, like 70',
         'Beautiful 70-year-old woman with freckles - Stock Photo'),
        ('a little girl flying a kite', 'make her older',
         'an elderly woman flying a kite'),
        ('a man reading a newspaper', 'make him older',
         'an elderly man reading a newspaper'),
        ('Vintage Brass Telescope on Wooden Tripod - Nautical Decor - Free Shipping', 'make it silver',
         'Vintage Silver Telescope on Wooden Tripod - Nautical Decor - Free Shipping'),
        ('Ballerina tying her pointe shoes, black and white photography', 'make it colorful',
         'Ballerina tying her pointe shoes, colorful photography'),
        ('portrait of an old fisherman', 'make him younger',
         'portrait of a young fisherman'),
        ('couple dancing in the kitchen', 'make them old',
         'elderly couple dancing in the kitchen'),
        ('cute robot watering plants in a garden', 'make it rusty',
         'cute rusty robot watering plants in a garden'),
        ('hot air balloons over cappadocia', 'make tehm all red',
         'red hot air balloons over cappadocia'),
        ('Oak Wood Floating Wall Shelves Set of 3, Rustic Farmhouse Decor', 'make them metal',
         'Metal Floating Wall Shelves Set of 3, Rustic Farmhouse Decor'),
        ('Fishing boats moored in a harbour in Greece', 'make the boats yellow',
         'Yellow Fishing boats moored in a harbour in Greece'),
        ('majestic castle on a cliff above a stormy sea, crashing waves', 'make the sea calm',
         'majestic castle on a cliff above a calm sea, crashing waves'),
        ('Cozy living room with a fireplace, a big grey sofa, plants', 'make the sofa mustard yellow',
         'Cozy living room with a fireplace, a big mustard yellow sofa, plants'),
        ('city skyline at sunset, orange sky, reflections in the river', 'make teh sky purple',
         'city skyline at sunset, purple sky, reflections in the river'),
    ],
    # one thing for another (turn X into Y, Y instead of X, swap, X -> Y), people and brands too
    "replace": [
        ('a small wooden cabin by a lake', 'turn the cabin into a stone cottage',
         'a small stone cottage by a lake'),
        ('Plums and Roses by Elizabeth Robbins', 'swap roses with daisies',
         'Plums and Daisies by Elizabeth Robbins'),
        ('a cat in a dark cave, glowing treasure', 'put it in a library instead of a cave',
         'a cat in a dark library, glowing treasure'),
        ('a fisherman, stormy harbor in the background', 'change the harbor to a calm sunny one',
         'a fisherman, calm sunny harbor in the background'),
        ('an apple on a table', 'replace the apple with an orange',
         'an orange on a table'),
        ('a dog on a bench', 'swap the dog for an elephant',
         'an elephant on a bench'),
        ('Ship In The Harbor At Dawn, Seagulls At Dawn', 'change dawn to night',
         'Ship In The Harbor At Night, Seagulls At Night'),
        ('Golden Retriever Puppy Sitting in Tall Grass - Stock Photo', 'make it a husky',
         'Husky Puppy Sitting in Tall Grass - Stock Photo'),
        ('Sheep grazing on a hillside in the Lake District', 'goats instead',
         'Goats grazing on a hillside in the Lake District'),
        ('a little girl flying a kite in a field', 'make her an old lady',
         'an old lady flying a kite in a field'),
        ('A Red Fox Hunting in Deep Snow - Print', 'make it an arctic fox',
         'An Arctic Fox Hunting in Deep Snow - Print'),
        ('a golden retriever on a couch', 'swap the dog for a cat',
         'a cat on a couch'),
        ('Chris Hemsworth at the premiere in Sydney', 'swap him for Danny DeVito',
         'Danny DeVito at the premiere in Sydney'),
        ('Leonardo DiCaprio and Kate Winslet at the bow, 1997', 'swap kate for meryl streep',
         'Leonardo DiCaprio and Meryl Streep at the bow, 1997'),
        ('Vintage Coca-Cola truck in the snow', 'make it a pepsi truck',
         'Vintage Pepsi Truck in the snow'),
        ('Row of Victorian Houses in San Francisco', 'make them log cabins',
         'Row of Log Cabins in San Francisco'),
        ('a futuristic city above the clouds, glass towers', 'what if it was a medieval city',
         'a medieval city above the clouds, glass towers'),
        ('Girl in a straw hat holding a bouquet of wildflowers', 'give her a balloon instead of the flowers',
         'Girl in a straw hat holding a balloon'),
        ('Tabby Cat Cross Stitch Pattern - Cat Lover Gift', 'make it a dog',
         'Dog Cross Stitch Pattern - Dog Lover Gift'),
        ('Keanu Reeves rides his motorcycle through Malibu', 'swap Keanu for Rihanna',
         'Rihanna rides his motorcycle through Malibu'),
        ('Neon-lit ramen shop on a sunny street in Tokyo', 'make it a taco stand',
         'Neon-lit taco stand on a sunny street in Tokyo'),
        ('Queen Elizabeth II waves from the balcony of Buckingham Palace', 'make her a penguin',
         'Penguin Queen Elizabeth II waves from the balcony of Buckingham Palace'),
        ('Barack Obama speaks at a town hall meeting in Denver', 'make him a muppet',
         'Muppet Barack Obama speaks at a town hall meeting in Denver'),
        ('Astronaut floating above Earth, NASA photo', 'what if he was a dog',
         'Dog floating above Earth, NASA photo'),
        ('a stag in a forest, by greg rutkowski and thomas kinkade', 'swap rutkowski for john howe',
         'a stag in a forest, by john howe and thomas kinkade'),
        ('a bowl of lemons', 'make them strawberries',
         'a bowl of strawberries'),
        ('Hand-painted ceramic mug with lemons, 12oz', 'make it a strawberry',
         'Hand-painted ceramic mug with strawberries, 12oz'),
        ('girl as a cyborg, chrome skin, glowing blue eyes, oil painting', 'eyes red not blue',
         'girl as a cyborg, chrome skin, glowing red eyes, oil painting'),
        ('Kids Room Decor - Cute Elephant and Balloons Nursery Print', 'elephant to giraffe',
         'Kids Room Decor - Cute Giraffe and Balloons Nursery Print'),
        ('kids playing soccer in a park', 'soccer -> basketball',
         'kids playing basketball in a park'),
        ('Homemade apple pie on a checkered tablecloth', 'swap the pie for a chocolate cake',
         'Homemade chocolate cake on a checkered tablecloth'),
        ('Arts And Crafts Tonalist Painting', 'Tonalist -> Social Realist',
         'Arts And Crafts Social Realist Painting'),
        ('a zen garden, raked sand, maple tree, koi pond', 'replace the maple w/ a cherry blosom tree',
         'a zen garden, raked sand, cherry blossom tree, koi pond'),
        ('station interior, earth visible through a window, clean', 'mars instead of earth in the window',
         'station interior, mars visible through a window, clean'),
        ('Product photo of a leather backpack on a white background', 'make the backpack canvas instead of leather',
         'Product photo of a canvas backpack on a white background'),
        ('portrait of a middle-aged man in a denim jacket', 'make him a teenager',
         'portrait of a teenager in a denim jacket'),
    ],
    # moves: the named place or the place phrase
    "move": [
        ('Tokyo Street at Night - Neon Wallpaper HD', 'Move it to Seoul',
         'Seoul Street at Night - Neon Wallpaper HD'),
        ('Winter in Prague, 56x76cm, 2016', 'move to Sweden',
         'Winter in Sweden, 56x76cm, 2016'),
        ('John Singer Sargent - Man Seated by a Stream', 'move him to a blank white background',
         'John Singer Sargent - Man Seated on a blank white background'),
        ('a girl on the beach', 'put her in a desert',
         'a girl in a desert'),
        ('Yoga class on a rooftop in Brooklyn, New York', 'move to bali',
         'Yoga class on a rooftop in Bali'),
        ('Hikers on a rope bridge in the Nepal Himalayas - Stock Photo', 'set it in the amazon jungle',
         'Hikers on a rope bridge in the Amazon Jungle - Stock Photo'),
        ('Fishing Boats at High Tide, St Ives - Photo by Jane Harvey', 'move it to greece',
         'Fishing Boats at High Tide, Greece - Photo by Jane Harvey'),
        ('a bookshop on a snowy street in london, warm windows', 'move it to paris',
         'a bookshop on a snowy street in Paris, warm windows'),
        ('a girl reading a book in bed', 'move her to the beach',
         'a girl reading a book on the beach'),
        ('Harvest Moon over the Cornfield | Watercolour | 12 x 16 | by Peter Sheeler', 'put it in Tuscany',
         'Harvest Moon over the Cornfield in Tuscany | Watercolour | 12 x 16 | by Peter Sheeler'),
        ('Harry Styles performs during his tour at Madison Square Garden', 'put him in a cathedral',
         'Harry Styles performs during his tour in a cathedral'),
        ('Sunrise In Death Valley Art Print', 'Move to NYC',
         'Sunrise In NYC Art Print'),
        ('Friends having a picnic under a big oak tree.', 'move to the moon',
         'Friends having a picnic under a big oak tree on the moon'),
        ('Fishing Red boats in the harbour at Mousehole, Cornwall, on a calm evening', 'move it to Norway',
         'Fishing Red boats in the harbour at Mousehole, Norway, on a calm evening'),
        ('Neon Tokyo Street at Night Cyberpunk Wallpaper HD', 'move it to Paris',
         'Neon Paris Street at Night Cyberpunk Wallpaper HD'),
        ('Old fisherman mending his nets on the harbour wall, St Ives, Cornwall', 'move him to Venice',
         'Old fisherman mending his nets on the harbour wall, Venice'),
        ('Vintage Travel Poster - Visit Switzerland - Matterhorn', 'make it Mount Fuji',
         'Vintage Travel Poster - Visit Mount Fuji'),
        ('Christ of the Ozarks statue, Eureka Springs, Arkansas', 'place it in Antarctica',
         'Christ of the Ozarks statue, Antarctica'),
        ('an orange cat sitting on a porch with some rain', 'put it on a boat instead',
         'an orange cat sitting in a boat with some rain'),
    ],
    # medium and artist: the prompt's own medium / artist words become the new ones
    "style": [
        ('City in the clouds speedpaint by Tryingtofly', 'by Lisa Frank',
         'City in the clouds speedpaint by Lisa Frank'),
        ('a knight, by zdzislaw beksinski and h.r. giger, 8k', 'By Monet instead.',
         'a knight, by Monet, 8k'),
        ('a forest, in the style of john howe', 'in the style of studio ghibli instead',
         'a forest, in the style of studio ghibli'),
        ('Thomas Moran - Grand Canyon, 1872, oil on canvas, Smithsonian', 'Turn into stained glass',
         'Thomas Moran - Grand Canyon, 1872, stained glass, Smithsonian'),
        ('sketchbook toned paper prismacolor pencil sketch of willie nelson', 'Replace the sketch with a photograph',
         'photograph of willie nelson'),
        ('a bowl of pho, steam rising, food photography', 'make it an anime illustration instead of a photo',
         'a bowl of pho, steam rising, anime illustration'),
        ('Igor Sava #watercolor jd', 'make it look like a claymation',
         'Igor Sava #claymation jd'),
        ('Old Mill Stream, Pastel on Paper by Ruth Abernathy', 'as an oil painting by Monet',
         'Old Mill Stream, Oil Painting by Monet'),
        ('NYC 32 - 48 x 48 inches - Oil on Panel - Oct-16', 'turn into a watercolor',
         'NYC 32 - 48 x 48 inches - Watercolor - Oct-16'),
        ('Autumn Path in Central Park - photo by J. Chen', 'do it in watercolor',
         'Autumn Path in Central Park - watercolor by J. Chen'),
        ('The Great Wave, Hokusai, c. 1831, woodblock print, Met Museum', 'as an oil painting',
         'The Great Wave, Hokusai, c. 1831, oil painting, Met Museum'),
        ('portrait of a woman, soft window light, shot on Canon EOS R5, 85mm f/1.2, kodak portra 400, ultra realistic', 'make it look like a Renaissance painting',
         'portrait of a woman, soft window light, Renaissance painting'),
        ('1girl, witch hat, broom, night sky, anime style', 'realistic photo instead',
         '1girl, witch hat, broom, night sky, realistic photo'),
        ('Sue Zimmerman WATERCOLOR French Quarter Neighbors Painting', 'change to low poly model',
         'Sue Zimmerman LOW POLY MODEL French Quarter Neighbors'),
        ('Street Market in Marrakech - Travel Photography by Jonas Berg', 'convert it to a watercolour paintng',
         'Street Market in Marrakech - Travel Watercolour Painting by Jonas Berg'),
        ('fishing village under the northern lights, long exposure photograph', 'turn it into a linocut',
         'fishing village under the northern lights, linocut'),
        ('Autumn colors framed by sliding doors and tatami mats', 'Make it an Ukiyo-e painting',
         'Ukiyo-e painting of autumn colors framed by sliding doors and tatami mats'),
        ('Albert Bierstadt - Among the Sierra Nevada, California', 'by hokusai insted',
         'Hokusai - Among the Sierra Nevada, California'),
        ('Winter Sunset over the Village, 30x40cm, oil on cardboard, 2019', 'convert it to a watercolour',
         'Winter Sunset over the Village, 30x40cm, watercolour, 2019'),
        ('baby dragon in a teacup, pixar style, soft lighting, 3d render, octane', 'make it claymation',
         'baby dragon in a teacup, claymation, soft lighting, octane'),
        ('Lady with a Red Parasol by Frank Weston Benson', 'have it be by Klimt',
         'Lady with a Red Parasol by Klimt'),
        ('a puppy on a green velvet couch, sleepy puppy', 'pixar style pls',
         'a puppy on a green velvet couch, sleepy puppy, pixar style'),
        ("St. Mark's Basilica, Venice - Canaletto", 'by Hundertwasser',
         "St. Mark's Basilica, Venice - Hundertwasser"),
        ('Alphonse Mucha - Zodiac, 1896, lithograph', 'by Yoshitaka Amano instead',
         'Yoshitaka Amano - Zodiac, 1896, lithograph'),
        ('Gustav Klimt - The Kiss (detail)', 'what if it was by picasso',
         'Picasso - The Kiss (detail)'),
        ('a red barn in a wheat field under a stormy sky, oil painting, impasto, thick brushstrokes, by Van Gogh, masterpiece', 'turn into a photo',
         'a red barn in a wheat field under a stormy sky, photo, by Van Gogh, masterpiece'),
        ('a dwarf blacksmith, sparks, fantasy, concept art, by wayne reynolds and frank frazetta', 'change the artist to Moebius',
         'a dwarf blacksmith, sparks, fantasy, concept art, by Moebius'),
        ('space station, cinematic, by syd mead and john harris, 8k', 'change the artists to h.r. giger',
         'space station, cinematic, by h.r. giger, 8k'),
    ],
    # season, time of day, weather, holidays: what clashes with the change goes
    "scene": [
        ('a cabin by a lake, summer morning', 'make it winter',
         'a cabin by a lake, winter morning'),
        ('Colorful summer landscape near the river.', 'change the season to autumn',
         'Colorful autumn landscape near the river.'),
        ('a zebra in a field', 'make it sunset',
         'a zebra in a field at sunset'),
        ('a street market at night, neon signs', 'make it daytime',
         'a street market during the day, neon signs'),
        ('a street market, rain-soaked pavement', 'make it snow instead of rain',
         'a street market, snowy pavement'),
        ('a cat on a bench with a red umbrella', 'make it raining',
         'a cat on a bench with a red umbrella in the rain'),
        ('a lighthouse on a rainy day', 'make it snowy',
         'a lighthouse on a snowy day'),
        ('a cabin, winter morning, smoke', 'make it night with northern lights',
         'a cabin, winter night, smoke, northern lights'),
        ('a market with fruit stalls', 'make it early morning',
         'a market with fruit stalls in the early morning'),
        ('a woman on a busy street on a sunny afternoon', 'make it night',
         'a woman on a busy street at night'),
        ('a kid on a sunny beach, waves', 'make it sunset',
         'a kid on a beach, waves, at sunset'),
        ('a road, sunny spring afternoon, blue sky', 'Make it rainy',
         'a road, rainy spring afternoon, overcast sky'),
        ('a busy street, cyberpunk', 'at dusk',
         'a busy street, cyberpunk, at dusk'),
        ('1boy, knight, castle, daytime, blue sky', 'night time',
         '1boy, knight, castle, nighttime, night sky'),
        ('a village street in autumn, cobblestones, fallen leaves, warm windows', 'make it winter',
         'a village street in winter, cobblestones, warm windows'),
        ('Central Park in Autumn New York City Wallpaper trees lake fall colors skyline', 'winter please',
         'Central Park in Winter New York City Wallpaper trees lake skyline'),
        ('Pink Cherry Blossom Tree by the Lake Spring Desktop Wallpaper', 'autumn please',
         'Pink Cherry Blossom Tree by the Lake Autumn Desktop Wallpaper'),
        ('a market, summer afternoon, fantasy illustration', 'set it in the dead of winter',
         'a market, winter afternoon, fantasy illustration'),
        ('a spring of water in the woods', 'make it winter',
         'a spring of water in the woods in winter'),
        ('a coffee shop on a rainy afternoon, large windows with raindrops, soft colors', 'Make it a sunny morning',
         'a coffee shop on a sunny morning, large windows, soft colors'),
        ('a girl jumping in puddles on a rainy autumn day', 'make it a sunny spring day',
         'a girl jumping in puddles on a sunny spring day'),
        ('Brick Lighthouse on a Rocky Shore, Canada, Overcast Day', 'foggy instead',
         'Brick Lighthouse on a Rocky Shore, Canada, Foggy Day'),
        ('Snowy Street in Quebec City at Christmas by Marc Dubois', 'make it summer',
         'Street in Quebec City in summer by Marc Dubois'),
        ('wallpaper-mountain-lake-autumn-trees-1920x1080', 'spring time',
         'wallpaper-mountain-lake-spring-trees-1920x1080'),
        ('Camille Pissarro - Boulevard Montmartre at Night', 'change the time of day',
         'Camille Pissarro - Boulevard Montmartre during the day'),
        ('Lavender fields near Valensole, France in July', 'make it winter',
         'Lavender fields near Valensole, France in winter'),
        ('Rating: Safe Tags: 2girls beach ocean umbrella User: hinata_p', 'make it winter',
         'Rating: Safe Tags: 2girls beach ocean umbrella winter User: hinata_p'),
        ('Spring Meadow with Poppies by Ellen Bryant', 'change the season',
         'Autumn Meadow with Poppies by Ellen Bryant'),
        ('Times Square New York City at night long exposure', 'make it during the day',
         'Times Square New York City during the day long exposure'),
        ('Frozen waterfall in Iceland', 'make it summer',
         'Waterfall in Iceland in summer'),
        ('decorated village at christmas', 'its halloween now',
         'decorated village at halloween'),
        ('Winter Wonderland Christmas Village Wallpaper', 'make it halloween',
         'Winter Wonderland Halloween Village Wallpaper'),
        ('a cozy cottage, glowing mushrooms, moonlight, fantasy', 'daytime instead',
         'a cozy cottage, glowing mushrooms, fantasy, during the day'),
        ('a cabin at night, warm light, snow falling, pine trees', 'make it summer',
         'a cabin at night, warm light, pine trees, in summer'),
        ('ruins in the jungle, waterfalls, rays of sunlight, mist', 'nighttime with a full moon',
         'ruins in the jungle, waterfalls, mist, at night, a full moon'),
        ('Lighthouse on a rocky cliff during a storm', 'make it sunny',
         'Lighthouse on a rocky cliff in the sun'),
        ('a quiet street in a small italian town at noon', 'diff time of day',
         'a quiet street in a small italian town at night'),
        ('a cottage garden in full bloom, foxgloves, roses', 'autumn',
         'a cottage garden, foxgloves, roses, in autumn'),
        ('lighthouse on a cliff during a storm', 'make the weather calm and sunny',
         'lighthouse on a cliff in the sun'),
        ('Photograph - Foggy Morning On The Thames by Elena Marsh', 'swap fog for snow',
         'Photograph - Snowy Morning On The Thames by Elena Marsh'),
    ],
    # moods: said as a description or a tag, never pasted as a command
    "mood": [
        ('kids playing soccer in a park', 'more dramatic pls',
         'kids playing soccer in a park, dramatic'),
        ('a cute dragon, big eyes, kawaii, by Beatrix Potter', 'Make it creepier',
         'a creepy dragon, big eyes, by Beatrix Potter'),
        ('Quiet Harbour at Dusk by Peter Lawson', 'make it spooky',
         'Spooky Harbour at Dusk by Peter Lawson'),
        ('Cute kawaii bunny in a teacup, pastel background, adorable big eyes', 'make it evil',
         'Evil bunny in a teacup, pastel background, big eyes'),
        ('1girl, bench, park, scarf, expressionless', 'make her happy',
         '1girl, bench, park, scarf, happy'),
        ('a lonely tree on a hill', 'cheer it up a bit',
         'a cheerful tree on a hill'),
        ('a guy eating pizza', 'make it EPIC',
         'a guy eating pizza, epic'),
        ('Reflections - a quiet evening at Moraine Lake', 'less quiet',
         'Reflections - a lively evening at Moraine Lake'),
        ('A barista pouring latte art in a busy cafe', 'idk make it more cinematic',
         'A barista pouring latte art in a busy cafe, cinematic'),
        ('a happy family having a picnic in the park', 'make it kinda gloomy',
         'a gloomy family having a picnic in the park'),
        ('a lighthouse on a rocky shore, crashing waves, storm clouds, moody, oil painting', 'make it calm and peaceful',
         'a lighthouse on a rocky shore, moody, calm, oil painting'),
    ],
    # additions placed with the subject
    "add": [
        ('Empty Country Road Through Wheat Fields, Saskatchewan', 'put a red tractor on it',
         'Country Road Through Wheat Fields with a Red Tractor, Saskatchewan'),
        ('Photograph - Fox Trio by Jai Johnson', 'give them bunny ears',
         'Photograph - Fox Trio with Bunny Ears by Jai Johnson'),
        ('Sorolla - Strolling along the Seashore, 1909', 'put everyone in modern swimsuits',
         'Sorolla - Strolling along the Seashore Wearing Modern Swimsuits, 1909'),
        ('an orange cat sleeping on a windowsill', 'add a cup of tea next to it',
         'an orange cat sleeping on a windowsill with a cup of tea next to it'),
    ],
    # no rule edit where the plain meaning is not there
    "nothing": [
        ('The Old Mill by Moonlight, oil painting', 'by Turner instead',
         None),
    ],
}


@pytest.mark.parametrize("prompt, instruction, want", [
    pytest.param(*case, id=f"{kind}-{n}") for kind, cases in RULE_EDITS.items() for n, case in enumerate(cases)])
def test_rule_edits(prompt, instruction, want):
    assert first(prompt, instruction) == want

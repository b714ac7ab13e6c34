"""Bundled quotes for the /quote command (no network needed)."""

from typing import NamedTuple


class Quote(NamedTuple):
    """A saying and who said it."""

    text: str
    author: str


QUOTES: tuple[Quote, ...] = (
    Quote(
        "Beautiful is better than ugly.",
        "Tim Peters",
    ),
    Quote(
        "Explicit is better than implicit.",
        "Tim Peters",
    ),
    Quote(
        "Simple is better than complex.",
        "Tim Peters",
    ),
    Quote(
        "Complex is better than complicated.",
        "Tim Peters",
    ),
    Quote(
        "Flat is better than nested.",
        "Tim Peters",
    ),
    Quote(
        "Sparse is better than dense.",
        "Tim Peters",
    ),
    Quote(
        "Readability counts.",
        "Tim Peters",
    ),
    Quote(
        "Special cases aren't special enough to break the rules.",
        "Tim Peters",
    ),
    Quote(
        "Practicality beats purity.",
        "Tim Peters",
    ),
    Quote(
        "Errors should never pass silently.",
        "Tim Peters",
    ),
    Quote(
        "In the face of ambiguity, refuse the temptation to guess.",
        "Tim Peters",
    ),
    Quote(
        "There should be one-- and preferably only one --obvious way to do it.",
        "Tim Peters",
    ),
    Quote(
        "Now is better than never.",
        "Tim Peters",
    ),
    Quote(
        "If the implementation is hard to explain, it's a bad idea.",
        "Tim Peters",
    ),
    Quote(
        "If the implementation is easy to explain, it may be a good idea.",
        "Tim Peters",
    ),
    Quote(
        "Namespaces are one honking great idea -- let's do more of those!",
        "Tim Peters",
    ),
    Quote(
        "Code is read much more often than it is written.",
        "Guido van Rossum",
    ),
    Quote(
        "Premature optimization is the root of all evil.",
        "Donald Knuth",
    ),
    Quote(
        (
            "Beware of bugs in the above code; I have only proved it correct, not "
            "tried it."
        ),
        "Donald Knuth",
    ),
    Quote(
        "An algorithm must be seen to be believed.",
        "Donald Knuth",
    ),
    Quote(
        (
            "Science is what we understand well enough to explain to a computer. Art "
            "is everything else we do."
        ),
        "Donald Knuth",
    ),
    Quote(
        (
            "Instead of imagining that our main task is to instruct a computer what to "
            "do, let us concentrate rather on explaining to human beings what we want "
            "a computer to do."
        ),
        "Donald Knuth",
    ),
    Quote(
        (
            "Program testing can be used to show the presence of bugs, but never to "
            "show their absence!"
        ),
        "Edsger W. Dijkstra",
    ),
    Quote(
        "Simplicity is prerequisite for reliability.",
        "Edsger W. Dijkstra",
    ),
    Quote(
        (
            "The question of whether a computer can think is no more interesting than "
            "the question of whether a submarine can swim."
        ),
        "Edsger W. Dijkstra",
    ),
    Quote(
        (
            "The purpose of abstraction is not to be vague, but to create a new "
            "semantic level in which one can be absolutely precise."
        ),
        "Edsger W. Dijkstra",
    ),
    Quote(
        (
            "There are only two hard things in Computer Science: cache invalidation "
            "and naming things."
        ),
        "Phil Karlton",
    ),
    Quote(
        (
            "Any fool can write code that a computer can understand. Good programmers "
            "write code that humans can understand."
        ),
        "Martin Fowler",
    ),
    Quote(
        (
            "Programs must be written for people to read, and only incidentally for "
            "machines to execute."
        ),
        "Harold Abelson",
    ),
    Quote(
        "Talk is cheap. Show me the code.",
        "Linus Torvalds",
    ),
    Quote(
        (
            "Bad programmers worry about the code. Good programmers worry about data "
            "structures and their relationships."
        ),
        "Linus Torvalds",
    ),
    Quote(
        "Given enough eyeballs, all bugs are shallow.",
        "Eric S. Raymond",
    ),
    Quote(
        (
            "Lisp is worth learning for the profound enlightenment experience you will "
            "have when you finally get it."
        ),
        "Eric S. Raymond",
    ),
    Quote(
        "When in doubt, use brute force.",
        "Ken Thompson",
    ),
    Quote(
        "One of my most productive days was throwing away 1000 lines of code.",
        "Ken Thompson",
    ),
    Quote(
        "Controlling complexity is the essence of computer programming.",
        "Brian Kernighan",
    ),
    Quote(
        (
            "Debugging is twice as hard as writing the code in the first place. "
            "Therefore, if you write the code as cleverly as possible, you are, by "
            "definition, not smart enough to debug it."
        ),
        "Brian Kernighan",
    ),
    Quote(
        (
            "The most effective debugging tool is still careful thought, coupled with "
            "judiciously placed print statements."
        ),
        "Brian Kernighan",
    ),
    Quote(
        "Adding manpower to a late software project makes it later.",
        "Fred Brooks",
    ),
    Quote(
        "Plan to throw one away; you will, anyhow.",
        "Fred Brooks",
    ),
    Quote(
        (
            "Show me your flowcharts and conceal your tables, and I shall continue to "
            "be mystified. Show me your tables, and I won't usually need your "
            "flowcharts; they'll be obvious."
        ),
        "Fred Brooks",
    ),
    Quote(
        "The best way to predict the future is to invent it.",
        "Alan Kay",
    ),
    Quote(
        "Simple things should be simple, complex things should be possible.",
        "Alan Kay",
    ),
    Quote(
        "Make it work, make it right, make it fast.",
        "Kent Beck",
    ),
    Quote(
        (
            "Walking on water and developing software from a specification are easy if "
            "both are frozen."
        ),
        "Edward V. Berard",
    ),
    Quote(
        (
            "Rules of Optimization: Rule 1: Don't do it. Rule 2 (for experts only): "
            "Don't do it yet."
        ),
        "Michael A. Jackson",
    ),
    Quote(
        "Fancy algorithms are slow when n is small, and n is usually small.",
        "Rob Pike",
    ),
    Quote(
        (
            "Data dominates. If you've chosen the right data structures and organized "
            "things well, the algorithms will almost always be self-evident."
        ),
        "Rob Pike",
    ),
    Quote(
        "Clear is better than clever.",
        "Rob Pike",
    ),
    Quote(
        "A little copying is better than a little dependency.",
        "Rob Pike",
    ),
    Quote(
        "Don't communicate by sharing memory, share memory by communicating.",
        "Rob Pike",
    ),
    Quote(
        (
            "I call it my billion-dollar mistake. It was the invention of the null "
            "reference in 1965."
        ),
        "Tony Hoare",
    ),
    Quote(
        "Those who don't understand Unix are condemned to reinvent it, poorly.",
        "Henry Spencer",
    ),
    Quote(
        (
            "UNIX was not designed to stop its users from doing stupid things, as that "
            "would also stop them from doing clever things."
        ),
        "Doug Gwyn",
    ),
    Quote(
        (
            "Write programs that do one thing and do it well. Write programs to work "
            "together."
        ),
        "Doug McIlroy",
    ),
    Quote(
        (
            "Some people, when confronted with a problem, think 'I know, I'll use "
            "regular expressions.' Now they have two problems."
        ),
        "Jamie Zawinski",
    ),
    Quote(
        "Every program attempts to expand until it can read mail.",
        "Jamie Zawinski",
    ),
    Quote(
        (
            "Any sufficiently complicated C or Fortran program contains an ad hoc, "
            "informally-specified, bug-ridden, slow implementation of half of Common "
            "Lisp."
        ),
        "Philip Greenspun",
    ),
    Quote(
        (
            "A language that doesn't affect the way you think about programming is not "
            "worth knowing."
        ),
        "Alan Perlis",
    ),
    Quote(
        "Simplicity does not precede complexity, but follows it.",
        "Alan Perlis",
    ),
    Quote(
        "It is easier to write an incorrect program than understand a correct one.",
        "Alan Perlis",
    ),
    Quote(
        "Syntactic sugar causes cancer of the semicolon.",
        "Alan Perlis",
    ),
    Quote(
        "Optimization hinders evolution.",
        "Alan Perlis",
    ),
    Quote(
        (
            "Any organization that designs a system (defined broadly) will produce a "
            "design whose structure is a copy of the organization's communication "
            "structure."
        ),
        "Melvin Conway",
    ),
    Quote(
        "Be conservative in what you do, be liberal in what you accept from others.",
        "Jon Postel",
    ),
    Quote(
        (
            "The best performance improvement is the transition from the nonworking "
            "state to the working state."
        ),
        "John Ousterhout",
    ),
    Quote(
        (
            "A complex system that works is invariably found to have evolved from a "
            "simple system that worked."
        ),
        "John Gall",
    ),
    Quote(
        "Software is getting slower more rapidly than hardware is becoming faster.",
        "Niklaus Wirth",
    ),
    Quote(
        (
            "The cheapest, fastest, and most reliable components are those that aren't "
            "there."
        ),
        "Gordon Bell",
    ),
    Quote(
        (
            "If builders built buildings the way programmers wrote programs, then the "
            "first woodpecker that came along would destroy civilization."
        ),
        "Gerald Weinberg",
    ),
    Quote(
        "No matter what the problem is, it's always a people problem.",
        "Gerald Weinberg",
    ),
    Quote(
        (
            "There are only two kinds of languages: the ones people complain about and "
            "the ones nobody uses."
        ),
        "Bjarne Stroustrup",
    ),
    Quote(
        (
            "Within C++, there is a much smaller and cleaner language struggling to "
            "get out."
        ),
        "Bjarne Stroustrup",
    ),
    Quote(
        "Ruby is designed to make programmers happy.",
        "Yukihiro Matsumoto",
    ),
    Quote(
        "Real artists ship.",
        "Steve Jobs",
    ),
    Quote(
        "Design is not just what it looks like and feels like. Design is how it works.",
        "Steve Jobs",
    ),
    Quote(
        (
            "It always takes longer than you expect, even when you take into account "
            "Hofstadter's Law."
        ),
        "Douglas Hofstadter",
    ),
    Quote(
        (
            "The Analytical Engine weaves algebraical patterns just as the Jacquard "
            "loom weaves flowers and leaves."
        ),
        "Ada Lovelace",
    ),
    Quote(
        "The Analytical Engine has no pretensions whatever to originate anything.",
        "Ada Lovelace",
    ),
    Quote(
        (
            "On two occasions I have been asked, 'Pray, Mr. Babbage, if you put into "
            "the machine wrong figures, will the right answers come out?'"
        ),
        "Charles Babbage",
    ),
    Quote(
        (
            "We can only see a short distance ahead, but we can see plenty there that "
            "needs to be done."
        ),
        "Alan Turing",
    ),
    Quote(
        (
            "The most dangerous phrase in the language is, 'We've always done it this "
            "way.'"
        ),
        "Grace Hopper",
    ),
    Quote(
        "It's easier to ask forgiveness than it is to get permission.",
        "Grace Hopper",
    ),
    Quote(
        "Any sufficiently advanced technology is indistinguishable from magic.",
        "Arthur C. Clarke",
    ),
    Quote(
        (
            "The only way of discovering the limits of the possible is to venture a "
            "little way past them into the impossible."
        ),
        "Arthur C. Clarke",
    ),
    Quote(
        (
            "Scientists study the world as it is; engineers create the world that has "
            "never been."
        ),
        "Theodore von Karman",
    ),
    Quote(
        (
            "Engineering is the art of directing the great sources of power in nature "
            "for the use and convenience of man."
        ),
        "Thomas Tredgold",
    ),
    Quote(
        (
            "One machine can do the work of fifty ordinary men. No machine can do the "
            "work of one extraordinary man."
        ),
        "Elbert Hubbard",
    ),
    Quote(
        (
            "Perfection is achieved, not when there is nothing more to add, but when "
            "there is nothing left to take away."
        ),
        "Antoine de Saint-Exupery",
    ),
    Quote(
        "What is essential is invisible to the eye.",
        "Antoine de Saint-Exupery",
    ),
    Quote(
        "If I have seen further it is by standing on the shoulders of Giants.",
        "Isaac Newton",
    ),
    Quote(
        (
            "Truth is ever to be found in simplicity, and not in the multiplicity and "
            "confusion of things."
        ),
        "Isaac Newton",
    ),
    Quote(
        "Nothing in life is to be feared, it is only to be understood.",
        "Marie Curie",
    ),
    Quote(
        (
            "The first principle is that you must not fool yourself, and you are the "
            "easiest person to fool."
        ),
        "Richard Feynman",
    ),
    Quote(
        "What I cannot create, I do not understand.",
        "Richard Feynman",
    ),
    Quote(
        (
            "For a successful technology, reality must take precedence over public "
            "relations, for nature cannot be fooled."
        ),
        "Richard Feynman",
    ),
    Quote(
        (
            "Nature uses only the longest threads to weave her patterns, so each small "
            "piece of her fabric reveals the organization of the entire tapestry."
        ),
        "Richard Feynman",
    ),
    Quote(
        "Extraordinary claims require extraordinary evidence.",
        "Carl Sagan",
    ),
    Quote(
        (
            "If you wish to make an apple pie from scratch, you must first invent the "
            "universe."
        ),
        "Carl Sagan",
    ),
    Quote(
        "We are a way for the cosmos to know itself.",
        "Carl Sagan",
    ),
    Quote(
        "Science is a way of thinking much more than it is a body of knowledge.",
        "Carl Sagan",
    ),
    Quote(
        (
            "The important thing is not to stop questioning. Curiosity has its own "
            "reason for existing."
        ),
        "Albert Einstein",
    ),
    Quote(
        "Imagination is more important than knowledge.",
        "Albert Einstein",
    ),
    Quote(
        "I have no special talents. I am only passionately curious.",
        "Albert Einstein",
    ),
    Quote(
        "Pure mathematics is, in its way, the poetry of logical ideas.",
        "Albert Einstein",
    ),
    Quote(
        "In the fields of observation chance favors only the prepared mind.",
        "Louis Pasteur",
    ),
    Quote(
        "Give me a place to stand, and I shall move the earth.",
        "Archimedes",
    ),
    Quote(
        "Nature does nothing in vain.",
        "Aristotle",
    ),
    Quote(
        "Remember to look up at the stars and not down at your feet.",
        "Stephen Hawking",
    ),
    Quote(
        (
            "An expert is a person who has made all the mistakes that can be made in a "
            "very narrow field."
        ),
        "Niels Bohr",
    ),
    Quote(
        "All models are wrong, but some are useful.",
        "George E. P. Box",
    ),
    Quote(
        (
            "The scientist is not a person who gives the right answers, he's one who "
            "asks the right questions."
        ),
        "Claude Levi-Strauss",
    ),
    Quote(
        (
            "Equipped with his five senses, man explores the universe around him and "
            "calls the adventure Science."
        ),
        "Edwin Hubble",
    ),
    Quote(
        (
            "The good thing about science is that it's true whether or not you believe "
            "in it."
        ),
        "Neil deGrasse Tyson",
    ),
    Quote(
        "The universe is under no obligation to make sense to you.",
        "Neil deGrasse Tyson",
    ),
    Quote(
        "Everything is theoretically impossible, until it is done.",
        "Robert A. Heinlein",
    ),
    Quote(
        "Nothing in biology makes sense except in the light of evolution.",
        "Theodosius Dobzhansky",
    ),
    Quote(
        (
            "The saddest aspect of life right now is that science gathers knowledge "
            "faster than society gathers wisdom."
        ),
        "Isaac Asimov",
    ),
    Quote(
        "Never let your sense of morals prevent you from doing what is right.",
        "Isaac Asimov",
    ),
    Quote(
        (
            "Nothing is too wonderful to be true, if it be consistent with the laws of "
            "nature."
        ),
        "Michael Faraday",
    ),
    Quote(
        (
            "When you can measure what you are speaking about, and express it in "
            "numbers, you know something about it."
        ),
        "Lord Kelvin",
    ),
    Quote(
        "In mathematics you don't understand things. You just get used to them.",
        "John von Neumann",
    ),
    Quote(
        "Mathematics, rightly viewed, possesses not only truth, but supreme beauty.",
        "Bertrand Russell",
    ),
    Quote(
        "A mathematician is a device for turning coffee into theorems.",
        "Alfred Renyi",
    ),
    Quote(
        (
            "Beauty is the first test: there is no permanent place in the world for "
            "ugly mathematics."
        ),
        "G. H. Hardy",
    ),
    Quote(
        "The essence of mathematics lies in its freedom.",
        "Georg Cantor",
    ),
    Quote(
        "We must know. We will know.",
        "David Hilbert",
    ),
    Quote(
        "Mathematics is the art of giving the same name to different things.",
        "Henri Poincare",
    ),
    Quote(
        "It is by logic that we prove, but by intuition that we discover.",
        "Henri Poincare",
    ),
    Quote(
        (
            "Science is built up with facts, as a house is with stones. But a "
            "collection of facts is no more a science than a heap of stones is a "
            "house."
        ),
        "Henri Poincare",
    ),
    Quote(
        "There is no royal road to geometry.",
        "Euclid",
    ),
    Quote(
        "Genius is one percent inspiration and ninety-nine percent perspiration.",
        "Thomas Edison",
    ),
    Quote(
        "Ignorance more frequently begets confidence than does knowledge.",
        "Charles Darwin",
    ),
    Quote(
        (
            "A man who dares to waste one hour of time has not discovered the value of "
            "life."
        ),
        "Charles Darwin",
    ),
    Quote(
        (
            "To kill an error is as good a service as, and sometimes even better than, "
            "the establishing of a new truth or fact."
        ),
        "Charles Darwin",
    ),
    Quote(
        "There is nothing so practical as a good theory.",
        "Kurt Lewin",
    ),
    Quote(
        "Work expands so as to fill the time available for its completion.",
        "C. Northcote Parkinson",
    ),
    Quote(
        "Simplicity is the soul of efficiency.",
        "R. Austin Freeman",
    ),
    Quote(
        "The art of being wise is the art of knowing what to overlook.",
        "William James",
    ),
    Quote(
        "The unexamined life is not worth living.",
        "Socrates",
    ),
    Quote(
        "I think, therefore I am.",
        "Rene Descartes",
    ),
    Quote(
        "Man is the measure of all things.",
        "Protagoras",
    ),
    Quote(
        "Whereof one cannot speak, thereof one must be silent.",
        "Ludwig Wittgenstein",
    ),
    Quote(
        "The limits of my language mean the limits of my world.",
        "Ludwig Wittgenstein",
    ),
    Quote(
        "He who has a why to live can bear almost any how.",
        "Friedrich Nietzsche",
    ),
    Quote(
        "Those who cannot remember the past are condemned to repeat it.",
        "George Santayana",
    ),
    Quote(
        "Life can only be understood backwards; but it must be lived forwards.",
        "Soren Kierkegaard",
    ),
    Quote(
        "We suffer more often in imagination than in reality.",
        "Seneca",
    ),
    Quote(
        "While we are postponing, life speeds by.",
        "Seneca",
    ),
    Quote(
        "Waste no more time arguing about what a good man should be. Be one.",
        "Marcus Aurelius",
    ),
    Quote(
        (
            "The impediment to action advances action. What stands in the way becomes "
            "the way."
        ),
        "Marcus Aurelius",
    ),
    Quote(
        "Men are disturbed not by things, but by the opinions about things.",
        "Epictetus",
    ),
    Quote(
        "First say to yourself what you would be; and then do what you have to do.",
        "Epictetus",
    ),
    Quote(
        "The journey of a thousand miles begins with one step.",
        "Lao Tzu",
    ),
    Quote(
        "Life is short, art is long.",
        "Hippocrates",
    ),
    Quote(
        "Doubt is not a pleasant condition, but certainty is absurd.",
        "Voltaire",
    ),
    Quote(
        "The best is the enemy of the good.",
        "Voltaire",
    ),
    Quote(
        "Common sense is not so common.",
        "Voltaire",
    ),
    Quote(
        (
            "I have made this longer than usual because I have not had time to make it "
            "shorter."
        ),
        "Blaise Pascal",
    ),
    Quote(
        "The heart has its reasons which reason knows nothing of.",
        "Blaise Pascal",
    ),
    Quote(
        (
            "Talent hits a target no one else can hit; genius hits a target no one "
            "else can see."
        ),
        "Arthur Schopenhauer",
    ),
    Quote(
        (
            "Every man takes the limits of his own field of vision for the limits of "
            "the world."
        ),
        "Arthur Schopenhauer",
    ),
    Quote(
        "Have the courage to use your own understanding.",
        "Immanuel Kant",
    ),
    Quote(
        "Out of the crooked timber of humanity, no straight thing was ever made.",
        "Immanuel Kant",
    ),
    Quote(
        "Leisure is the mother of philosophy.",
        "Thomas Hobbes",
    ),
    Quote(
        "Ask yourself whether you are happy, and you cease to be so.",
        "John Stuart Mill",
    ),
    Quote(
        "He who knows only his own side of the case, knows little of that.",
        "John Stuart Mill",
    ),
    Quote(
        "Knowledge is power.",
        "Francis Bacon",
    ),
    Quote(
        "Reading maketh a full man; conference a ready man; and writing an exact man.",
        "Francis Bacon",
    ),
    Quote(
        (
            "Some books are to be tasted, others to be swallowed, and some few to be "
            "chewed and digested."
        ),
        "Francis Bacon",
    ),
    Quote(
        (
            "In the beginner's mind there are many possibilities, but in the expert's "
            "there are few."
        ),
        "Shunryu Suzuki",
    ),
    Quote(
        "Well done is better than well said.",
        "Benjamin Franklin",
    ),
    Quote(
        "Lost time is never found again.",
        "Benjamin Franklin",
    ),
    Quote(
        "Little strokes fell great oaks.",
        "Benjamin Franklin",
    ),
    Quote(
        "Whatever is worth doing at all is worth doing well.",
        "Lord Chesterfield",
    ),
    Quote(
        "Brevity is the soul of wit.",
        "William Shakespeare",
    ),
    Quote(
        "All the world's a stage, and all the men and women merely players.",
        "William Shakespeare",
    ),
    Quote(
        "We know what we are, but know not what we may be.",
        "William Shakespeare",
    ),
    Quote(
        "There is nothing either good or bad, but thinking makes it so.",
        "William Shakespeare",
    ),
    Quote(
        (
            "What's in a name? That which we call a rose by any other name would smell "
            "as sweet."
        ),
        "William Shakespeare",
    ),
    Quote(
        "The better part of valour is discretion.",
        "William Shakespeare",
    ),
    Quote(
        "No man is an island, entire of itself.",
        "John Donne",
    ),
    Quote(
        "To err is human, to forgive divine.",
        "Alexander Pope",
    ),
    Quote(
        "A little learning is a dangerous thing.",
        "Alexander Pope",
    ),
    Quote(
        "Hope springs eternal in the human breast.",
        "Alexander Pope",
    ),
    Quote(
        "The pen is mightier than the sword.",
        "Edward Bulwer-Lytton",
    ),
    Quote(
        "A thing of beauty is a joy for ever.",
        "John Keats",
    ),
    Quote(
        "What is now proved was once only imagined.",
        "William Blake",
    ),
    Quote(
        "Energy is eternal delight.",
        "William Blake",
    ),
    Quote(
        "Hope is the thing with feathers that perches in the soul.",
        "Emily Dickinson",
    ),
    Quote(
        "A foolish consistency is the hobgoblin of little minds.",
        "Ralph Waldo Emerson",
    ),
    Quote(
        "Nothing great was ever achieved without enthusiasm.",
        "Ralph Waldo Emerson",
    ),
    Quote(
        "Hitch your wagon to a star.",
        "Ralph Waldo Emerson",
    ),
    Quote(
        "Our life is frittered away by detail. Simplify, simplify.",
        "Henry David Thoreau",
    ),
    Quote(
        "Rather than love, than money, than fame, give me truth.",
        "Henry David Thoreau",
    ),
    Quote(
        (
            "The difference between the almost right word and the right word is really "
            "a large matter - 'tis the difference between the lightning-bug and the "
            "lightning."
        ),
        "Mark Twain",
    ),
    Quote(
        "Get your facts first, and then you can distort them as you please.",
        "Mark Twain",
    ),
    Quote(
        (
            "Whenever you find yourself on the side of the majority, it is time to "
            "pause and reflect."
        ),
        "Mark Twain",
    ),
    Quote(
        "We are all in the gutter, but some of us are looking at the stars.",
        "Oscar Wilde",
    ),
    Quote(
        "Experience is the name every one gives to their mistakes.",
        "Oscar Wilde",
    ),
    Quote(
        (
            "The reasonable man adapts himself to the world; the unreasonable one "
            "persists in trying to adapt the world to himself. Therefore all progress "
            "depends on the unreasonable man."
        ),
        "George Bernard Shaw",
    ),
    Quote(
        "Not all those who wander are lost.",
        "J. R. R. Tolkien",
    ),
    Quote(
        "All we have to decide is what to do with the time that is given us.",
        "J. R. R. Tolkien",
    ),
    Quote(
        (
            "A reader lives a thousand lives before he dies. The man who never reads "
            "lives only one."
        ),
        "George R. R. Martin",
    ),
    Quote(
        "It was the best of times, it was the worst of times.",
        "Charles Dickens",
    ),
    Quote(
        "Happy families are all alike; every unhappy family is unhappy in its own way.",
        "Leo Tolstoy",
    ),
    Quote(
        (
            "So we beat on, boats against the current, borne back ceaselessly into the "
            "past."
        ),
        "F. Scott Fitzgerald",
    ),
    Quote(
        (
            "When you have eliminated the impossible, whatever remains, however "
            "improbable, must be the truth."
        ),
        "Arthur Conan Doyle",
    ),
    Quote(
        "It is a capital mistake to theorize before one has data.",
        "Arthur Conan Doyle",
    ),
    Quote(
        "You see, but you do not observe.",
        "Arthur Conan Doyle",
    ),
    Quote(
        (
            "Why, sometimes I've believed as many as six impossible things before "
            "breakfast."
        ),
        "Lewis Carroll",
    ),
    Quote(
        "Begin at the beginning, and go on till you come to the end: then stop.",
        "Lewis Carroll",
    ),
    Quote(
        "One must imagine Sisyphus happy.",
        "Albert Camus",
    ),
    Quote(
        (
            "In the depth of winter, I finally learned that within me there lay an "
            "invincible summer."
        ),
        "Albert Camus",
    ),
    Quote(
        "I have always imagined that Paradise will be a kind of library.",
        "Jorge Luis Borges",
    ),
    Quote(
        "Reality is that which, when you stop believing in it, doesn't go away.",
        "Philip K. Dick",
    ),
    Quote(
        "The future is already here - it's just not very evenly distributed.",
        "William Gibson",
    ),
    Quote(
        "Time is an illusion. Lunchtime doubly so.",
        "Douglas Adams",
    ),
    Quote(
        "I love deadlines. I like the whooshing sound they make as they fly by.",
        "Douglas Adams",
    ),
    Quote(
        (
            "A common mistake that people make when trying to design something "
            "completely foolproof is to underestimate the ingenuity of complete fools."
        ),
        "Douglas Adams",
    ),
    Quote(
        "I am not afraid of storms, for I am learning how to sail my ship.",
        "Louisa May Alcott",
    ),
    Quote(
        "The more that you read, the more things you will know.",
        "Dr. Seuss",
    ),
    Quote(
        "Think before you speak. Read before you think.",
        "Fran Lebowitz",
    ),
)
